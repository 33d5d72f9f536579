"""A code change redeployed: new image digest, container replaced, new code served, data kept."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import requests

from tests.support.docker_engine.deployer import (
    BASE_URL,
    StackDeployer,
    StackRun,
    copy_program,
    make_deployer,
)
from tests.support.docker_engine.probing import Prober, wait_for_http
from tests.support.resource_types import COMMAND, CONTAINER, IMAGE, VOLUME

ADMIN_PASSWORD = "redeploy-admin-pw-1"
CHANGED_FILE = Path("app/service/health.py")
HEALTHZ_BODY = 'return {"status": "ok"}'


@pytest.fixture
def program_copy(repo_root: Path, tmp_path: Path) -> Path:
    return copy_program(tmp_path / "program", repo_root)


@pytest.fixture
def copy_deployer(
    program_copy: Path,
    tmp_path: Path,
    base_image: str,
    deploy_images: list[dict[str, str]],
    log_dir_files: None,
) -> Iterator[StackDeployer]:
    workdir = tmp_path / "runs"
    workdir.mkdir()
    yield from make_deployer(program_copy, workdir, base_image, deploy_images)


def change_healthz(program: Path, marker: str) -> None:
    """The code change: /healthz also reports a marker (fails loudly if health.py changed shape)."""
    path = program / CHANGED_FILE
    source = path.read_text()
    assert source.count(HEALTHZ_BODY) == 1, f"{CHANGED_FILE} no longer has `{HEALTHZ_BODY}`: update this test"
    path.write_text(source.replace(HEALTHZ_BODY, f'return {{"status": "ok", "marker": "{marker}"}}'))


def login(username: str, password: str) -> requests.Response:
    return requests.post(
        f"{BASE_URL}/api/v1/auth/login", json={"username": username, "password": password}, timeout=10
    )


def seed_users(run: StackRun) -> None:
    """An admin made through the CLI, and a user the admin creates through the API."""
    container = docker.from_env().containers.get(run.exports["containerName"])
    create_admin = ["flask", "create-admin", "admin", "--keep-password"]
    code, output = container.exec_run(create_admin, environment={"ADMIN_PASSWORD": ADMIN_PASSWORD})
    assert code == 0, output.decode()
    token = login("admin", ADMIN_PASSWORD).json()["access_token"]
    created = requests.post(
        f"{BASE_URL}/api/v1/users",
        json={"username": "kept-user", "password": "kept-user-password-1"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text


def test_code_change_redeploy_replaces_the_container_and_keeps_the_data(
    copy_deployer: StackDeployer, program_copy: Path
) -> None:
    first = copy_deployer.up()
    assert first.error is None, first.error
    seed_users(first)
    old_container = docker.from_env().containers.get(first.exports["containerName"])
    marker = uuid.uuid4().hex
    assert "marker" not in wait_for_http(f"{BASE_URL}/healthz").json()

    change_healthz(program_copy, marker)
    with Prober(f"{BASE_URL}/healthz") as prober:
        second = copy_deployer.up()
    assert second.error is None, second.error
    redeploy_steps = second.events

    assert second.exports["imageDigest"] != first.exports["imageDigest"]
    assert next(e["action"] for e in redeploy_steps if e["type"] == IMAGE) == "update"
    # The fixed name and port allow one container: the old one must go before the new one starts.
    assert second.step(CONTAINER)["action"] == "replace-delete-first"
    new_container = docker.from_env().containers.get(second.exports["containerName"])
    assert new_container.id != old_container.id
    assert new_container.attrs["Config"]["Image"] == second.exports["imageDigest"]
    assert wait_for_http(f"{BASE_URL}/healthz").json()["marker"] == marker

    # The migration ran again for the new image, found the schema at head and changed nothing.
    commands = [e for e in redeploy_steps if e["type"] == COMMAND and e["action"] == "replace"]
    migration = next(e for e in commands if "db upgrade" in second.resources[e["urn"]]["inputs"]["create"])
    outputs = second.resources[migration["urn"]]["outputs"]
    assert "Running upgrade" not in outputs["stdout"] + outputs["stderr"]

    # Same volume, same database: the users made before the redeploy can still log in.
    assert second.step(VOLUME)["action"] == "same"
    assert login("admin", ADMIN_PASSWORD).status_code == 200
    assert login("kept-user", "kept-user-password-1").status_code == 200
    assert prober.probes, "the prober must have run during the redeploy"
    print(  # the numbers docs/live-deploy.md reports (tests/deploy/measure.py measures them on purpose)
        f"\nredeploy {second.seconds:.1f}s, {prober.failed} failed probes of {len(prober.probes)}, "
        f"outage {prober.outage_seconds():.2f}s"
    )


def test_rollback_to_the_earlier_digest_serves_the_old_code_with_the_same_data(
    copy_deployer: StackDeployer, program_copy: Path
) -> None:
    first = copy_deployer.up()
    assert first.error is None, first.error
    seed_users(first)
    change_healthz(program_copy, uuid.uuid4().hex)
    second = copy_deployer.up()
    assert second.error is None, second.error
    assert "marker" in wait_for_http(f"{BASE_URL}/healthz").json()

    # docs/operations.md's rollback: pin the digest an earlier update exported; nothing is built.
    rollback = copy_deployer.up(config={"imageRef": first.exports["imageDigest"]})

    assert rollback.error is None, rollback.error
    assert rollback.built_images == []
    # No Image is declared any more: `pulumi up` drops it from the stack (the provider keeps local images).
    assert [step["action"] for step in rollback.steps(IMAGE)] == ["delete"]
    assert rollback.step(CONTAINER)["action"] == "replace-delete-first"
    running = docker.from_env().containers.get(rollback.exports["containerName"])
    assert running.attrs["Config"]["Image"] == first.exports["imageDigest"]
    assert "marker" not in wait_for_http(f"{BASE_URL}/healthz").json()
    assert login("kept-user", "kept-user-password-1").status_code == 200
