"""frontProxy nginx on the real engine: the front owns the old script's name and port, the app containers
behind it are unpublished and share an alias, its config passes `nginx -t`, it passes the real client
address on (and the service believes it only from the private network), logs to the host log dir, and
reuses its connections to gunicorn."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import requests

from components.contract import APP_UID, CONTAINER_NAME, SERVICE_PORT
from components.docker.front import API_ALIAS, CONFIG_PATH, FRONT_PORT, FrontConfig
from tests.support.docker_engine.container import upload_archive
from tests.support.docker_engine.declared import Declared
from tests.support.docker_engine.deployer import (
    BASE_URL,
    HOST_PORT,
    LOG_DIR,
    StackDeployer,
    StackRun,
    make_deployer,
)
from tests.support.docker_engine.probing import wait_for_http
from tests.support.images import docker_client, labels_for

RENDERED = FrontConfig(server_name=CONTAINER_NAME, read_timeout_seconds=45).render()


def nginx_t(image: str, config: str) -> tuple[int, str]:
    """`nginx -t` of `config` in `image`, as the program runs the front (same path, same non-root UID)."""
    client = docker_client()
    container = client.containers.create(
        image,
        entrypoint=["nginx"],
        command=["-t", "-c", CONFIG_PATH, "-e", "stderr"],
        user=f"{APP_UID}:{APP_UID}",
        labels=labels_for("front-config"),
        network_disabled=True,
    )
    try:
        upload = Declared("nginx -t", {"file": CONFIG_PATH, "content": config})  # as the program uploads it
        container.put_archive("/", upload_archive([upload]))
        container.start()
        code = container.wait(timeout=60)["StatusCode"]
        return code, container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)


def test_the_rendered_front_config_passes_nginx_t(front_image: str) -> None:
    code, output = nginx_t(front_image, RENDERED)
    assert code == 0, output
    assert "syntax is ok" in output
    assert "test is successful" in output


def test_nginx_t_fails_on_a_broken_config_so_the_check_above_can_fail(front_image: str) -> None:
    code, output = nginx_t(front_image, RENDERED.replace("proxy_pass http://app;", "proxy_pass;"))
    assert code != 0
    assert "invalid number of arguments" in output, output


@pytest.fixture(scope="module")
def front_deployed(
    repo_root: Path,
    tmp_path_factory: pytest.TempPathFactory,
    base_image: str,
    front_image: str,
    deploy_images: list[dict[str, str]],
    log_dir_files: None,
) -> Iterator[tuple[StackDeployer, StackRun]]:
    workdir = tmp_path_factory.mktemp("front")
    for deployer in make_deployer(repo_root, workdir, base_image, deploy_images, front_image):
        run = deployer.up()
        assert run.error is None, f"the deploy failed:\n{run.error}\n{run.traceback}"
        yield deployer, run


def test_the_front_owns_the_name_and_host_port_and_the_app_is_not_published(
    front_deployed: tuple[StackDeployer, StackRun],
) -> None:
    _, run = front_deployed
    client = docker.from_env()
    front = client.containers.get(CONTAINER_NAME)
    assert run.exports["frontContainerName"] == CONTAINER_NAME
    assert front.attrs["NetworkSettings"]["Ports"] == {
        f"{FRONT_PORT}/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(HOST_PORT)}]  # noqa: S104 - hostIp's default
    }
    assert front.attrs["Config"]["User"] == f"{APP_UID}:{APP_UID}"
    app = client.containers.get(run.exports["containerName"])
    assert app.name.startswith(f"{CONTAINER_NAME}-api-")
    assert not any(app.attrs["NetworkSettings"]["Ports"].get(f"{SERVICE_PORT}/tcp") or [])
    network = next(iter(app.attrs["NetworkSettings"]["Networks"].values()))
    assert API_ALIAS in network["Aliases"]
    assert wait_for_http(f"{BASE_URL}/readyz").status_code == 200


def app_access_lines(marker: str) -> list[dict]:
    path = LOG_DIR / "access.log"
    lines = [json.loads(line) for line in path.read_text().splitlines() if marker in line]
    return lines


def test_the_service_sees_the_client_the_front_saw_not_the_front(
    front_deployed: tuple[StackDeployer, StackRun],
) -> None:
    client = docker.from_env()
    front = client.containers.get(CONTAINER_NAME)
    front_ip = next(iter(front.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
    marker = f"/healthz?client-check-{time.time_ns()}"
    # A client-made X-Forwarded-For is not believed: the front appends the address it saw.
    assert requests.get(BASE_URL + marker, headers={"X-Forwarded-For": "203.0.113.66"}, timeout=10).ok
    deadline = time.monotonic() + 20
    while not (lines := app_access_lines(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert lines, f"no access line for {marker} in {LOG_DIR / 'access.log'}"
    seen = json.dumps(lines[-1])
    assert front_ip not in seen, f"the service logged the front's address {front_ip}: {seen}"
    assert "203.0.113.66" not in seen.replace(marker, ""), seen


def test_the_front_writes_its_access_log_per_day_in_the_host_log_dir(
    front_deployed: tuple[StackDeployer, StackRun],
) -> None:
    marker = f"front-log-{time.time_ns()}"
    assert requests.get(f"{BASE_URL}/healthz?{marker}", timeout=10).ok
    day = time.strftime("%Y-%m-%d", time.gmtime())
    path = LOG_DIR / f"front-access-{day}.log"
    deadline = time.monotonic() + 10
    while not (path.exists() and marker in path.read_text()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert path.exists(), sorted(p.name for p in LOG_DIR.iterdir())
    line = next(line for line in path.read_text().splitlines() if marker in line)
    assert " 200 " in line, line
    assert "upstream=" in line, line
    assert path.stat().st_uid == APP_UID


def connections_from(app: Any, peer_ip: str) -> set[int]:
    """The peer ports of every TCP connection to the app container's port 8000 from `peer_ip`, in any
    state (TIME_WAIT included: a connection closed after one request stays listed for a minute)."""
    pid = app.attrs["State"]["Pid"]
    peer = socket.inet_aton(peer_ip)[::-1].hex().upper()  # /proc/net/tcp: little-endian hex address
    ports = set()
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        local, remote = line.split()[1:3]
        remote_ip, remote_port = remote.split(":")
        if local.endswith(f":{SERVICE_PORT:04X}") and remote_ip == peer:
            ports.add(int(remote_port, 16))
    return ports


def test_the_front_reuses_its_connections_to_gunicorn(front_deployed: tuple[StackDeployer, StackRun]) -> None:
    """Keep-alive upstream: 100 requests through the front open a handful of connections to gunicorn,
    not one each (a connect, accept and close per request was most of what the front cost)."""
    _, run = front_deployed
    client = docker.from_env()
    front = client.containers.get(CONTAINER_NAME)
    front_ip = next(iter(front.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
    app = client.containers.get(run.exports["containerName"])
    before = connections_from(app, front_ip)
    with requests.Session() as session:
        for _ in range(100):
            assert session.get(f"{BASE_URL}/healthz", timeout=10).status_code == 200
    new = connections_from(app, front_ip) - before
    assert new or before, "no connection from the front to gunicorn was seen at all"
    assert len(new) <= 10, f"{len(new)} new connections from the front for 100 requests"
