"""The test stack deployed for real: image built, migration first, service healthy, API, DB, logs."""

from __future__ import annotations

import time
import uuid

import docker
import requests

from components.contract import APP_UID, SERVICE_PORT
from tests.support.docker_engine.deployer import BASE_URL, HOST_PORT, LOG_DIR, StackDeployer, StackRun
from tests.support.docker_engine.probing import wait_for_http
from tests.support.resource_types import COMMAND, CONTAINER, IMAGE

ADMIN_PASSWORD = "deploy-test-admin-pw-1"


def migration_urn(run: StackRun) -> str:
    """The Command whose declared `create` runs `flask db upgrade`."""
    urns = [
        urn
        for urn, res in run.resources.items()
        if res["type"] == COMMAND and "flask db upgrade" in res["inputs"]["create"]
    ]
    assert len(urns) == 1, f"expected one migration command, found {urns}"
    return urns[0]


def exec_in(container_name: str, command: list[str], **env: str) -> str:
    container = docker.from_env().containers.get(container_name)
    exit_code, output = container.exec_run(command, environment=env)
    text = output.decode(errors="replace")
    assert exit_code == 0, f"{command} exited {exit_code}:\n{text}"
    return text


def test_image_is_built_and_the_container_runs_it_by_digest(deployed: tuple[StackDeployer, StackRun]) -> None:
    _, run = deployed
    image = run.step(IMAGE)
    digest = run.resources[image["urn"]]["outputs"]["repoDigest"]
    assert digest.startswith("sha256:")
    assert run.exports["imageDigest"] == digest
    container = docker.from_env().containers.get(run.exports["containerName"])
    assert container.attrs["Image"] == digest
    assert container.attrs["Config"]["Image"] == digest, "the container must name its image by digest"


def test_migration_runs_before_the_service_container_is_created(
    deployed: tuple[StackDeployer, StackRun],
) -> None:
    _, run = deployed
    events = run.events
    migration = next(e for e in events if e["urn"] == migration_urn(run) and e["action"] == "create")
    container = run.step(CONTAINER)
    assert container["action"] in {"create", "replace-delete-first"}
    assert migration["finished"] <= container["started"], (migration, container)
    # The declared dependency is what makes the real engine keep this order.
    assert migration["urn"] in container["dependencies"]
    outputs = run.resources[migration["urn"]]["outputs"]
    assert "Running upgrade" in outputs["stdout"] + outputs["stderr"], "a fresh volume must be migrated"


def test_service_answers_health_and_readiness_on_port_8083(deployed: tuple[StackDeployer, StackRun]) -> None:
    _, run = deployed
    assert run.exports["url"].endswith(f":{HOST_PORT}")
    assert wait_for_http(f"{BASE_URL}/healthz").json()["status"] == "ok"
    ready = wait_for_http(f"{BASE_URL}/readyz").json()
    assert ready["status"] == "ready"


def test_admin_from_the_cli_can_log_in_and_is_authorized(deployed: tuple[StackDeployer, StackRun]) -> None:
    _, run = deployed
    name = run.exports["containerName"]
    exec_in(name, ["flask", "create-admin", "admin", "--keep-password"], ADMIN_PASSWORD=ADMIN_PASSWORD)

    login = requests.post(
        f"{BASE_URL}/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=10
    )
    assert login.status_code == 200, login.text
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    allowed = requests.post(
        f"{BASE_URL}/api/v1/authorize", json={"permission": "users:create"}, headers=bearer, timeout=10
    )
    assert allowed.status_code == 200, allowed.text
    denied = requests.post(
        f"{BASE_URL}/api/v1/authorize", json={"permission": "no-such:permission"}, headers=bearer, timeout=10
    )
    assert denied.status_code == 403, denied.text
    wrong = requests.post(
        f"{BASE_URL}/api/v1/auth/login", json={"username": "admin", "password": "wrong"}, timeout=10
    )
    assert wrong.status_code == 401


def test_database_is_at_the_migration_head(deployed: tuple[StackDeployer, StackRun]) -> None:
    _, run = deployed
    current = exec_in(run.exports["containerName"], ["flask", "db", "current"])
    heads = exec_in(run.exports["containerName"], ["flask", "db", "heads"])
    head = heads.split()[0]
    assert f"{head} (head)" in current, f"current: {current!r}, heads: {heads!r}"


def test_access_log_lines_land_in_the_host_log_dir_written_by_the_app_user(
    deployed: tuple[StackDeployer, StackRun],
) -> None:
    marker = f"deploy-test-{uuid.uuid4().hex}"
    wait_for_http(f"{BASE_URL}/healthz")
    requests.get(f"{BASE_URL}/healthz", headers={"User-Agent": marker}, timeout=10)

    access_log = LOG_DIR / "access.log"
    assert access_log.exists(), f"no access.log in {LOG_DIR}: {sorted(p.name for p in LOG_DIR.iterdir())}"
    deadline = time.monotonic() + 10  # the worker writes the line after it sent the response
    while marker not in access_log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker in access_log.read_text(), "the request made just now is not in the host's access.log"
    assert access_log.stat().st_uid == APP_UID
    assert (LOG_DIR / "app.log").stat().st_uid == APP_UID


def test_running_container_carries_exactly_the_declared_settings(
    deployed: tuple[StackDeployer, StackRun],
) -> None:
    _, run = deployed
    declared = next(r["inputs"] for r in run.resources.values() if r["type"] == CONTAINER)
    attrs = docker.from_env().containers.get(declared["name"]).attrs
    host, config = attrs["HostConfig"], attrs["Config"]

    assert host["PortBindings"] == {
        f"{SERVICE_PORT}/tcp": [{"HostIp": declared["ports"][0]["ip"], "HostPort": str(HOST_PORT)}]
    }
    assert host["RestartPolicy"]["Name"] == declared["restart"]
    mounts = {m["Destination"]: (m["Type"], m.get("Name") or m["Source"]) for m in attrs["Mounts"]}
    assert mounts == {m["target"]: (m["type"], m["source"]) for m in declared["mounts"]}
    assert set(declared["envs"]) <= set(config["Env"])
    assert config["Healthcheck"]["Test"] == declared["healthcheck"]["tests"]
    assert config["User"] == declared.get("user", config["User"])
    assert config.get("StopTimeout") == declared.get("stopTimeout")
    assert host["LogConfig"] == {
        "Type": declared.get("logDriver", "json-file"),
        "Config": declared.get("logOpts", {}),
    }
    assert list(attrs["NetworkSettings"]["Networks"]) == [n["name"] for n in declared["networksAdvanced"]]
