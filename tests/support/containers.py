"""Run the service image the way a deploy does, and wait for it, on a real Docker engine."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

# The image runs as this user; host directories mounted into it must be writable by it.
SERVICE_UID = 10001
SERVICE_GID = 10001


class PortBusyError(RuntimeError):
    pass


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("0.0.0.0", port))  # noqa: S104 (docker publishes on all interfaces)
        except OSError:
            return False
    return True


def ensure_port_free(port: int, client: Any, wait: float = 60) -> None:
    """Fail with a clear message when `port` stays taken (e.g. another engineer's test holds 8083).

    Waits a little first: on a shared engine another test run may be about to release it.
    """
    deadline = time.monotonic() + wait
    while not port_is_free(port):
        if time.monotonic() > deadline:
            holders = [c.name for c in client.containers.list(filters={"publish": str(port)})]
            raise PortBusyError(
                f"host port {port} stayed busy for {wait:.0f}s; held by containers {holders or 'none'}"
                " or another process. Free it (or wait for the other test run) and retry."
            )
        time.sleep(1)


def make_host_dir_for_service(path: Path) -> Path:
    """Create a host dir the service (UID/GID 10001) can write, as a deploy must for bind mounts."""
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, SERVICE_UID, SERVICE_GID)
    path.chmod(0o755)
    return path


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def health_status(container: Any) -> str:
    container.reload()
    state = container.attrs["State"]
    if not state["Running"]:
        return "not running"
    return str(state.get("Health", {}).get("Status", "no healthcheck"))


def wait_until_healthy(container: Any, timeout: float = 120) -> None:
    """Wait for Docker's own HEALTHCHECK to report `healthy`; fail early on `unhealthy` or exit."""
    deadline = time.monotonic() + timeout
    status = health_status(container)
    while status != "healthy":
        if status in ("unhealthy", "not running") or time.monotonic() > deadline:
            raise AssertionError(
                f"container {container.name} is {status!r} (wanted 'healthy' within {timeout:.0f}s);"
                f" last health probes: {container.attrs['State'].get('Health', {}).get('Log', [])[-2:]}"
                f"\n--- container log tail ---\n{container.logs(tail=40).decode(errors='replace')}"
            )
        time.sleep(1)
        status = health_status(container)


def published_port(container: Any, container_port: str = "8000/tcp") -> int:
    """The host port Docker bound for `container_port` (it may change when the container restarts)."""
    container.reload()
    bindings = container.attrs["NetworkSettings"]["Ports"].get(container_port) or []
    if not bindings:
        raise AssertionError(f"{container.name} publishes no host port for {container_port}")
    return int(bindings[0]["HostPort"])


def http_get(url: str, timeout: float = 5) -> requests.Response:
    """GET without proxies from the environment: tests only talk to 127.0.0.1."""
    with requests.Session() as session:
        session.trust_env = False
        return session.get(url, timeout=timeout)


def exec_ok(container: Any, command: list[str], user: str = "") -> str:
    """Run a command in the container; return its output, fail with it when the exit code is not 0."""
    result = container.exec_run(command, user=user, demux=False)
    output = result.output.decode(errors="replace")
    if result.exit_code != 0:
        raise AssertionError(
            f"`{' '.join(command)}` exited {result.exit_code} in {container.name}:\n{output}"
        )
    return str(output)


def worker_pids(master_pid: int) -> set[int]:
    """Host PIDs of a gunicorn master's children (its workers), read from /proc as root on the host."""
    children = set()
    for task in os.listdir(f"/proc/{master_pid}/task"):
        text = Path(f"/proc/{master_pid}/task/{task}/children").read_text()
        children |= {int(pid) for pid in text.split()}
    return children


def settled_worker_pids(master_pid: int, settle: float = 2.0, timeout: float = 60) -> set[int]:
    """The master's workers once the set has stopped changing for `settle` seconds.

    With preload_app the first worker answers /healthz before the master has forked the others, so
    the set seen at the first 200 can be partial (the master then forks more, not fewer)."""
    deadline = time.monotonic() + timeout
    seen, since = worker_pids(master_pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = worker_pids(master_pid)
        if now != seen:
            seen, since = now, time.monotonic()
        elif seen and time.monotonic() - since >= settle:
            return seen
    raise AssertionError(f"gunicorn's workers did not settle within {timeout}s; last seen {sorted(seen)}")
