"""Crash recovery without supervisord: Docker's restart policy restarts a killed gunicorn master.

The master is PID 1 in the container. `docker kill` / `docker stop` count as a user's stop, which a
restart policy does not undo; PID 1 ignores SIGKILL sent from inside its own namespace
(`docker exec ... kill -9 1` does nothing); `kill -TERM 1` from inside is a graceful exit 0, which
`unless-stopped` restarts but `on-failure` does not. A crash is therefore made the way one really
happens: SIGKILL to the master's host pid (`docker inspect .State.Pid`), from outside the container.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.containers import http_get, published_port, wait_until, wait_until_healthy


def test_killed_gunicorn_master_is_restarted_by_the_restart_policy_and_serves_again(
    service_image: str, run_container: Callable[..., Any], make_log_dir: Callable[[], Path]
) -> None:
    container = run_container(
        service_image,
        # A port of Docker's choosing on loopback: 8083 belongs to the online.sh-style test.
        ports={"8000/tcp": ("127.0.0.1", None)},
        volumes={str(make_log_dir()): {"bind": "/app/logs", "mode": "rw"}},
        environment={"RUNTIME_ENV": "test"},
        restart_policy={"Name": "unless-stopped"},
    )
    wait_until_healthy(container)
    state = container.attrs["State"]
    assert container.attrs["RestartCount"] == 0
    master_pid = state["Pid"]
    with open(f"/proc/{master_pid}/cmdline", "rb") as cmdline:
        assert b"gunicorn" in cmdline.read(), "State.Pid is not the gunicorn master"

    # From inside, SIGKILL to PID 1 is dropped by the kernel: no crash, no restart.
    container.exec_run(["sh", "-c", "kill -KILL 1"])
    time.sleep(2)
    container.reload()
    assert (container.attrs["State"]["Pid"], container.attrs["RestartCount"]) == (master_pid, 0)

    os.kill(master_pid, signal.SIGKILL)

    def restarted() -> bool:
        container.reload()
        return container.attrs["RestartCount"] >= 1 and container.attrs["State"]["Running"]

    wait_until(restarted, timeout=60, what=f"{container.name} to be restarted after its master was killed")
    assert container.attrs["State"]["Pid"] != master_pid
    wait_until_healthy(container)
    # The published port may change on restart; ask Docker again.
    response = http_get(f"http://127.0.0.1:{published_port(container)}/healthz")
    assert response.status_code == 200, response.text
