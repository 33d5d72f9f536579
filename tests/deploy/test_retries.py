"""What the next `pulumi up` does after a failure or a change, with the harness following the providers.

- A container that could not start stays in the state as "failed to initialise"; with the program's
  replace_on_changes=["*"] the next run replaces it (without it, the run "succeeds" and leaves it broken).
- Any container change is a replacement (the provider alone would update a restart policy in place).
- The host log dir is prepared on every run, so a removed one is made again before the container needs it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from components.contract import APP_UID
from tests.support.docker_engine.deployer import (
    BASE_URL,
    HOST_PORT,
    StackDeployer,
    copy_program,
    make_deployer,
)
from tests.support.docker_engine.probing import wait_for_http
from tests.support.resource_types import COMMAND, CONTAINER

API_MODULE = Path("components/docker/api.py")
REPLACE_ON_ANY_CHANGE = 'REPLACE_ON_ANY_CHANGE = ["*"]'


def hold_host_port() -> socket.socket:
    """Another process listening on the stack's host port: the container is created but cannot start."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("0.0.0.0", HOST_PORT))  # noqa: S104 - where the stack publishes (hostIp 0.0.0.0)
    holder.listen(1)
    return holder


def fail_to_start(deployer: StackDeployer) -> str:
    """Run once with the port held; return the id of the container left behind (created, not started)."""
    with hold_host_port():
        failed = deployer.up(wait_for_port=False)
    assert failed.error is not None, "the container cannot publish a port someone else holds"
    [step] = failed.steps(CONTAINER)
    assert step["action"] == "failed", step
    [kept] = [r for r in failed.resources.values() if r["type"] == CONTAINER]
    assert kept["init_errors"], "the state keeps the container as failed to initialise"
    assert docker.from_env().containers.get(kept["id"]).status == "created"
    return str(kept["id"])


@pytest.fixture
def copy_deployer(
    repo_root: Path, tmp_path: Path, base_image: str, deploy_images: list[dict[str, str]], log_dir_files: None
) -> Iterator[StackDeployer]:
    program = copy_program(tmp_path / "program", repo_root)
    workdir = tmp_path / "runs"
    workdir.mkdir()
    yield from make_deployer(program, workdir, base_image, deploy_images)


def test_container_that_could_not_start_is_replaced_by_the_next_run(deployer: StackDeployer) -> None:
    broken = fail_to_start(deployer)

    retry = deployer.up()  # the same inputs, the port free again

    assert retry.error is None, retry.error
    step = retry.step(CONTAINER)
    assert step["action"] == "replace-delete-first", step
    assert "init errors: True" in step["detail"]
    running = docker.from_env().containers.get(retry.exports["containerName"])
    assert running.id != broken
    assert running.attrs["State"]["Health"]["Status"] == "healthy"
    assert wait_for_http(f"{BASE_URL}/healthz").status_code == 200


def test_without_replace_on_changes_the_next_run_succeeds_and_leaves_it_broken(
    copy_deployer: StackDeployer,
) -> None:
    # What the issue described: the provider's update after a failed initialisation changes nothing.
    api = copy_deployer.project_dir / API_MODULE
    source = api.read_text()
    assert source.count(REPLACE_ON_ANY_CHANGE) == 1, f"{API_MODULE} changed shape: update this test"
    api.write_text(source.replace(REPLACE_ON_ANY_CHANGE, "REPLACE_ON_ANY_CHANGE: list[str] = []"))
    broken = fail_to_start(copy_deployer)

    retry = copy_deployer.up()

    assert retry.error is None, "`pulumi up` reports success..."
    assert retry.step(CONTAINER)["action"] == "update"
    still = docker.from_env().containers.get(broken)
    assert still.status == "created", "...while the container that never started is still the one declared"


def test_restart_policy_change_replaces_the_container(deployer: StackDeployer) -> None:
    first = deployer.up()
    assert first.error is None, first.error
    before = docker.from_env().containers.get(first.exports["containerName"])
    assert before.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"

    second = deployer.up(config={"restartPolicy": "always"})

    assert second.error is None, second.error
    step = second.step(CONTAINER)
    # The provider alone would update it in place (and only this); the program replaces on any change.
    assert step["action"] == "replace-delete-first", step
    assert "replace_on_changes *: changed ['restart']" in step["detail"]
    after = docker.from_env().containers.get(second.exports["containerName"])
    assert after.id != before.id
    assert after.attrs["HostConfig"]["RestartPolicy"]["Name"] == "always"


def test_removed_log_dir_is_made_again_by_the_next_run(deployer: StackDeployer, tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    first = deployer.up(config={"logDir": str(log_dir)})
    assert first.error is None, first.error
    assert log_dir.stat().st_uid == APP_UID
    docker.from_env().containers.get(first.exports["containerName"]).stop(timeout=30)
    # Reboot, tmp cleaning: the host dir is gone. The same image; a setting change re-creates the container.
    for path in sorted(log_dir.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    log_dir.rmdir()

    second = deployer.up(config={"logDir": str(log_dir), "logLevel": "debug"})

    assert second.error is None, second.error  # not "bind source path does not exist"
    assert second.exports["imageDigest"] == first.exports["imageDigest"]
    log_dir_steps = [e for e in second.steps(COMMAND) if e["name"] == "runtime-log-dir"]
    assert [e["action"] for e in log_dir_steps] == ["replace"], "prepared again, though the image is the same"
    assert log_dir_steps[0]["finished"] <= second.step(CONTAINER)["started"]
    assert log_dir.stat().st_uid == APP_UID
    wait_for_http(f"{BASE_URL}/healthz")
    access_log = log_dir / "access.log"
    deadline = time.monotonic() + 30  # gunicorn writes the line after the response went out
    while not (access_log.exists() and "/healthz" in access_log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "/healthz" in access_log.read_text(), "the new container logs into the re-made dir"
    assert access_log.stat().st_uid == APP_UID
