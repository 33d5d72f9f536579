"""The image run as the old online.sh ran it: -p 8083:8000, host log dir at /app/logs, RUNTIME_ENV=test.

One container serves the whole module (starting it waits for Docker's healthcheck); tests read it
and the one that migrates is the only one that changes its database.
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.containers import (
    SERVICE_UID,
    PortBusyError,
    ensure_port_free,
    exec_ok,
    http_get,
    settled_worker_pids,
    wait_until,
    wait_until_healthy,
    worker_pids,
)

# The old online.sh published the service on host port 8083.
OLD_SCRIPT_PORT = 8083
BASE_URL = f"http://127.0.0.1:{OLD_SCRIPT_PORT}"


@pytest.fixture(scope="module")
def host_log_dir(make_log_dir: Callable[[], Path]) -> Path:
    return make_log_dir()


# pytest sets a failing module fixture up again for every test: remember a busy port, wait once.
PORT_BUSY: list[str] = []


@pytest.fixture(scope="module")
def service_container(
    docker_api: Any, service_image: str, run_container: Callable[..., Any], host_log_dir: Path
) -> Any:
    if PORT_BUSY:
        pytest.fail(PORT_BUSY[0])
    try:
        ensure_port_free(OLD_SCRIPT_PORT, docker_api)
    except PortBusyError as error:
        PORT_BUSY.append(str(error))
        raise
    container = run_container(
        service_image,
        ports={"8000/tcp": OLD_SCRIPT_PORT},
        volumes={str(host_log_dir): {"bind": "/app/logs", "mode": "rw"}},
        environment={"RUNTIME_ENV": "test"},
        tty=True,  # as `docker run -dit` did
    )
    wait_until_healthy(container)
    return container


def gunicorn_processes(container: Any) -> list[dict[str, str]]:
    """`docker top` rows (uid, pid, ppid, args) of the gunicorn processes, seen from the host."""
    top = container.top(ps_args="-o uid,pid,ppid,args")
    rows = [dict(zip(top["Titles"], process, strict=True)) for process in top["Processes"]]
    return [row for row in rows if "gunicorn" in row["COMMAND"]]


def test_container_turns_healthy_and_answers_healthz_on_host_port_8083(service_container: Any) -> None:
    response = http_get(f"{BASE_URL}/healthz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}


def test_readyz_turns_200_only_after_flask_db_upgrade_run_with_docker_exec(service_container: Any) -> None:
    before = http_get(f"{BASE_URL}/readyz")
    assert before.status_code == 503, before.text
    assert "flask db upgrade" in before.json()["reason"]

    exec_ok(service_container, ["flask", "db", "upgrade"])

    after = http_get(f"{BASE_URL}/readyz")
    assert after.status_code == 200, after.text
    # A second upgrade (every deploy runs one) is a no-op, not an error.
    exec_ok(service_container, ["flask", "db", "upgrade"])
    assert http_get(f"{BASE_URL}/readyz").status_code == 200


def test_access_and_app_log_lines_land_in_the_host_log_dir(
    service_container: Any, host_log_dir: Path
) -> None:
    marker = uuid.uuid4().hex
    assert http_get(f"{BASE_URL}/healthz?probe={marker}").status_code == 200

    access_log = host_log_dir / "access.log"
    wait_until(
        lambda: access_log.exists() and marker in access_log.read_text(errors="replace"),
        timeout=15,
        what=f"a line with {marker} in {access_log}",
    )
    app_log = host_log_dir / "app.log"
    assert app_log.exists(), sorted(p.name for p in host_log_dir.iterdir())
    assert "Booting worker" in app_log.read_text(errors="replace")
    for path in (access_log, app_log):  # one JSON object per line, in the files as on stdout
        for line in path.read_text(errors="replace").splitlines():
            assert isinstance(json.loads(line), dict), line
    # Written by the service's user, which is why a deploy must chown the host dir to it.
    assert access_log.stat().st_uid == SERVICE_UID


def test_gunicorn_master_and_workers_run_as_uid_10001(service_container: Any) -> None:
    processes = gunicorn_processes(service_container)
    master = [p for p in processes if p["PID"] == str(service_container.attrs["State"]["Pid"])]
    workers = [p for p in processes if p["PPID"] == str(service_container.attrs["State"]["Pid"])]
    assert len(master) == 1, processes
    assert workers, f"no gunicorn workers under the master: {processes}"
    assert {p["UID"] for p in processes} == {str(SERVICE_UID)}, processes
    assert exec_ok(service_container, ["id", "-u"]).strip() == str(SERVICE_UID)
    assert exec_ok(service_container, ["id", "-g"]).strip() == str(SERVICE_UID)


def test_killed_worker_is_replaced_by_the_gunicorn_master(service_container: Any) -> None:
    master_pid = service_container.attrs["State"]["Pid"]
    workers_before = settled_worker_pids(master_pid)
    victim = min(workers_before)

    # Host pid: the tests run as root on the engine's host, as CI does.
    os.kill(victim, signal.SIGKILL)

    def replaced() -> bool:
        workers = worker_pids(master_pid)
        return victim not in workers and len(workers) == len(workers_before)

    wait_until(replaced, timeout=30, what=f"the master to replace killed worker {victim}")
    assert http_get(f"{BASE_URL}/healthz").status_code == 200


def test_metrics_answer_inside_the_container_but_are_not_published(service_container: Any) -> None:
    script = "import urllib.request as u; print(u.urlopen('http://127.0.0.1:9464/metrics').read().decode())"
    metrics = exec_ok(service_container, ["python", "-c", script])
    assert 'http_requests_total{method="GET",route="/healthz",status="200"}' in metrics
    assert 'service_build_info{image="unknown",revision="unknown",version="unknown"} 1.0' in metrics
    service_container.reload()
    published = service_container.attrs["NetworkSettings"]["Ports"]
    assert published.get("8000/tcp"), published
    assert not published.get("9464/tcp"), f"the metrics port is published on the host: {published}"
    assert http_get(f"{BASE_URL}/version").json() == {
        "image": "unknown",
        "revision": "unknown",
        "version": "unknown",
    }
