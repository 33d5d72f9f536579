"""The declared restart policy brings a crashed service back; gunicorn's master replaces a dead worker."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import docker

from tests.support.containers import settled_worker_pids, worker_pids
from tests.support.docker_engine.deployer import BASE_URL, StackDeployer, StackRun
from tests.support.docker_engine.probing import wait_for_http


def container(run: StackRun) -> Any:
    return docker.from_env().containers.get(run.exports["containerName"])


def wait_until(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout}s: {what}; last seen {condition()!r}")


def test_killed_gunicorn_master_is_restarted_by_the_restart_policy_and_serves(
    deployed: tuple[StackDeployer, StackRun],
) -> None:
    _, run = deployed
    wait_for_http(f"{BASE_URL}/healthz")
    before = container(run)
    policy = before.attrs["HostConfig"]["RestartPolicy"]["Name"]
    assert policy in {"always", "unless-stopped", "on-failure"}, f"restart policy {policy!r} restarts nothing"
    master = before.attrs["State"]["Pid"]  # PID 1 in the container: gunicorn's master (exec-form CMD)
    assert "gunicorn" in Path(f"/proc/{master}/cmdline").read_text()

    os.kill(master, signal.SIGKILL)  # a crash: no graceful shutdown, exit code 137

    restarted = wait_until(
        lambda: (
            (c := container(run)).attrs["RestartCount"] > before.attrs["RestartCount"]
            and c.attrs["State"]["Running"]
            and c
        ),
        timeout=60,
        what="the container to be restarted",
    )
    assert restarted.id == before.id, "the same container comes back (restart, not a new one)"
    assert restarted.attrs["State"]["Pid"] != master
    assert wait_for_http(f"{BASE_URL}/healthz").json()["status"] == "ok"
    assert wait_for_http(f"{BASE_URL}/readyz").json()["status"] == "ready"


def test_killed_worker_is_respawned_by_the_gunicorn_master(deployed: tuple[StackDeployer, StackRun]) -> None:
    _, run = deployed
    wait_for_http(f"{BASE_URL}/healthz")
    before = container(run)
    master = before.attrs["State"]["Pid"]
    workers = settled_worker_pids(master)
    victim = min(workers)

    os.kill(victim, signal.SIGKILL)

    respawned = wait_until(
        lambda: (now := worker_pids(master)) and victim not in now and len(now) == len(workers) and now,
        timeout=30,
        what=f"the master to replace worker {victim} (workers before {sorted(workers)})",
    )
    assert respawned - workers, "a new worker PID must appear"
    after = container(run)
    assert after.attrs["State"]["Pid"] == master, "the master itself must not have restarted"
    assert after.attrs["RestartCount"] == before.attrs["RestartCount"]
    assert wait_for_http(f"{BASE_URL}/healthz").status_code == 200
