"""Wait until the engine can publish a host port: no other container publishes it, nothing listens.

The machine is shared: other suites and other people's containers publish the stack's port 8083 too,
some only for a few seconds. The harness waits for the port before a run and again right before it
starts a container (where `pulumi up` would simply fail), so the run tests the program, not the
neighbours. Before a run, free means free for a second: the engine releases a removed container's port
a moment after the container is gone ("port is already allocated" otherwise). Right before a start it
only waits while someone holds the port, so it adds nothing to a replacement's measured outage.
"""

from __future__ import annotations

import socket
import time

import docker

from tests.support.docker_engine.declared import HARNESS_LABEL


def wait_for_host_port_free(
    port: int, own_label: str | None = None, settle: float = 1, timeout: float = 300
) -> None:
    """Wait until `port` is free for `settle` seconds (or held by a container labelled `own_label`);
    fail naming the holder after `timeout`."""
    deadline = time.monotonic() + timeout
    free_since: float | None = None
    while True:
        holders, own_holds = publishers(port, own_label)
        free = not holders and (own_holds or host_port_bindable(port))
        if not free:
            free_since = None
        elif free_since is None:
            free_since = time.monotonic()
        if free_since is not None and (own_holds or time.monotonic() - free_since >= settle):
            return
        if time.monotonic() > deadline:
            held = f"containers {holders}" if holders else "a host process"
            raise AssertionError(f"port {port} is held by {held}; stop it first")
        time.sleep(0.5)


def publishers(port: int, own_label: str | None) -> tuple[list[str], bool]:
    """Names of the running containers (not ours) that publish `port`, and whether one of ours does."""
    client = docker.from_env()
    own: set[str] = set()
    if own_label:
        own = {c.id for c in client.containers.list(filters={"label": f"{HARNESS_LABEL}={own_label}"})}
    holders, own_holds = [], False
    for container in client.containers.list():
        for bindings in (container.attrs["NetworkSettings"]["Ports"] or {}).values():
            if any(b["HostPort"] == str(port) for b in bindings or []):
                own_holds |= container.id in own
                if container.id not in own:
                    holders.append(container.name)
    return holders, own_holds


def host_port_bindable(port: int) -> bool:
    """Nothing on the host listens on the port (no docker-proxy of a removed container, no process)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))  # noqa: S104 - where the stack publishes
        except OSError:
            return False
    return True
