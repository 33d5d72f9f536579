"""A migration that fails stops the deploy before the service container exists (or is replaced)."""

from __future__ import annotations

import docker
import docker.errors
import pytest
import requests

from components.contract import CONTAINER_NAME
from tests.support.docker_engine.deployer import BASE_URL, StackDeployer
from tests.support.docker_engine.probing import wait_for_http
from tests.support.resource_types import COMMAND, CONTAINER

# Inside the migration container 127.0.0.1 is the container itself, where nothing listens on 9.
UNREACHABLE_DATABASE = "postgresql+psycopg://model:model@127.0.0.1:9/model"


def test_unreachable_database_fails_the_migration_and_no_container_is_created(
    deployer: StackDeployer,
) -> None:
    run = deployer.up(secrets={"databaseUrl": UNREACHABLE_DATABASE})

    assert run.error is not None, "the deploy must fail when its migration fails"
    failed = [e for e in run.events if e["action"] == "failed"]
    assert [e["type"] for e in failed] == [COMMAND], failed
    assert "flask db upgrade" in failed[0]["detail"]
    # The command's own stderr (psycopg's refusal) is in the message that stopped the program.
    assert "Connection refused" in run.error or "connection failed" in run.error, run.error
    assert run.steps(CONTAINER) == [], "no container step may run after a failed migration"
    with pytest.raises(docker.errors.NotFound):
        docker.from_env().containers.get(CONTAINER_NAME)


def test_failed_migration_on_redeploy_keeps_the_running_version_serving(deployer: StackDeployer) -> None:
    first = deployer.up()
    assert first.error is None, first.error
    serving = docker.from_env().containers.get(CONTAINER_NAME)

    second = deployer.up(secrets={"databaseUrl": UNREACHABLE_DATABASE})

    assert second.error is not None
    assert "Connection refused" in second.error, second.error
    assert second.steps(CONTAINER) == []
    still = docker.from_env().containers.get(CONTAINER_NAME)
    assert still.id == serving.id
    assert still.status == "running"
    assert wait_for_http(f"{BASE_URL}/readyz").status_code == 200
    assert requests.get(f"{BASE_URL}/healthz", timeout=5).status_code == 200
