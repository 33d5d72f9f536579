"""Issue 13: behind the front (frontProxy nginx), a code-change redeploy, a restart-policy change, a failed
migration and a rollback by imageRef lose no request under steady load.

Each test runs 8 keep-alive clients (GET /healthz and /readyz, loopback only, bounded in count and time)
through the front on 8083 from before the switch until after it, and asserts 0 failed requests out of at
least 2,000, with answers on both sides of the switch. The app container is replaced create-before-replace:
the new one is created and healthy, then the old one is deleted at the end of the update.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors
import pytest

from tests.deploy.test_redeploy import change_healthz
from tests.support.docker_engine.deployer import BASE_URL, StackDeployer, StackRun
from tests.support.docker_engine.load import SteadyLoad
from tests.support.docker_engine.probing import wait_for_http
from tests.support.resource_types import CONTAINER

CLIENTS = 8
MIN_REQUESTS = 2_000
UNREACHABLE_DATABASE = "postgresql+psycopg://model:model@127.0.0.1:9/model"


def under_load(switch: Callable[[], StackRun]) -> tuple[StackRun, SteadyLoad, float, float]:
    """Run `switch` while 8 clients load the front; at least 500 answers before and after it, and at
    least MIN_REQUESTS in all."""
    load = SteadyLoad([f"{BASE_URL}/healthz", f"{BASE_URL}/readyz"], clients=CLIENTS, max_seconds=900)
    with load:
        load.wait_for(500)
        started = time.time()
        run = switch()
        ended = time.time()
        load.wait_for(max(len(load.answers) + 500, MIN_REQUESTS), timeout=300)
    return run, load, started, ended


def assert_nothing_lost(load: SteadyLoad, started: float, ended: float) -> None:
    during = load.between(started, ended)
    print(f"\n{load.summary()}; {len(during)} during the switch ({ended - started:.1f}s)")
    assert len(load.answers) >= MIN_REQUESTS, load.summary()
    assert load.between(0, started), "the load must start before the switch"
    assert load.between(ended, time.time() + 1), "the load must go on after the switch"
    assert during, "no request was answered during the switch"
    assert load.failed == [], load.summary()


def app_container_id(run: StackRun) -> str:
    return str(docker.from_env().containers.get(run.exports["containerName"]).id)


def assert_replaced_create_first(run: StackRun, old_id: str) -> None:
    """The new app container was created and healthy before the old one was deleted, at the end."""
    replace = next(e for e in run.steps(CONTAINER) if e["action"].startswith("replace"))
    assert replace["action"] == "replace-create-first", replace
    deletes = [e for e in run.steps(CONTAINER) if e["action"] == "delete"]
    assert len(deletes) == 1, run.steps(CONTAINER)
    assert deletes[0]["started"] >= replace["finished"], "the old container went before the new was healthy"
    last_other_step = max(e["finished"] for e in run.events if e["action"] != "delete")
    assert deletes[0]["started"] >= last_other_step, "the old container must be deleted at the end"
    with pytest.raises(docker.errors.NotFound):
        docker.from_env().containers.get(old_id)


def test_code_change_redeploy_loses_no_request(front_deployer: StackDeployer, front_program: Path) -> None:
    first = front_deployer.up()
    assert first.error is None, first.error
    old_id = app_container_id(first)
    marker = uuid.uuid4().hex
    change_healthz(front_program, marker)

    run, load, started, ended = under_load(front_deployer.up)

    assert run.error is None, run.error
    assert run.exports["imageDigest"] != first.exports["imageDigest"]
    assert_replaced_create_first(run, old_id)
    assert wait_for_http(f"{BASE_URL}/healthz").json()["marker"] == marker
    assert_nothing_lost(load, started, ended)


def test_restart_policy_change_loses_no_request(front_deployer: StackDeployer) -> None:
    first = front_deployer.up()
    assert first.error is None, first.error
    old_id = app_container_id(first)

    run, load, started, ended = under_load(lambda: front_deployer.up(config={"restartPolicy": "always"}))

    assert run.error is None, run.error
    assert_replaced_create_first(run, old_id)
    new = docker.from_env().containers.get(run.exports["containerName"])
    assert new.attrs["HostConfig"]["RestartPolicy"]["Name"] == "always"
    assert_nothing_lost(load, started, ended)


def test_failed_migration_loses_no_request(front_deployer: StackDeployer) -> None:
    first = front_deployer.up()
    assert first.error is None, first.error
    old_id = app_container_id(first)

    run, load, started, ended = under_load(
        lambda: front_deployer.up(secrets={"databaseUrl": UNREACHABLE_DATABASE})
    )

    assert run.error is not None
    assert "flask db upgrade" in run.error, run.error
    assert run.steps(CONTAINER) == [], "nothing may be replaced after a failed migration"
    assert app_container_id(first) == old_id
    assert_nothing_lost(load, started, ended)


def test_rollback_by_image_ref_loses_no_request(front_deployer: StackDeployer, front_program: Path) -> None:
    first = front_deployer.up()
    assert first.error is None, first.error
    change_healthz(front_program, uuid.uuid4().hex)
    second = front_deployer.up()
    assert second.error is None, second.error
    assert "marker" in wait_for_http(f"{BASE_URL}/healthz").json()
    old_id = app_container_id(second)

    run, load, started, ended = under_load(
        lambda: front_deployer.up(config={"imageRef": first.exports["imageDigest"]})
    )

    assert run.error is None, run.error
    assert run.built_images == []
    assert_replaced_create_first(run, old_id)
    running = docker.from_env().containers.get(run.exports["containerName"])
    assert running.attrs["Config"]["Image"] == first.exports["imageDigest"]
    assert "marker" not in wait_for_http(f"{BASE_URL}/healthz").json()
    assert_nothing_lost(load, started, ended)
