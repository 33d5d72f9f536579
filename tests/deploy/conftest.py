"""Fixtures for carrying the `test` stack out on the real Docker engine (see docs/live-deploy.md).

`StackDeployer.up()` runs the real program once (tests/deploy/run_stack.py, in its own process) with
the stack's real config; the `base_image` fixture's tag replaces python:3.12-slim, which cannot be
pulled here. Whatever a deployer created carries the label microservice-model.deploy-test=<run id>
and is removed when the fixture ends, whether the test passed or not.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack_deployer import LOG_DIR, StackDeployer, StackRun, make_deployer


@pytest.fixture(scope="session")
def deploy_images(docker_engine: None) -> Iterator[list[dict[str, str]]]:
    """Images the deploy runs built; kept for the session (build cache), untagged at its end."""
    built: list[dict[str, str]] = []
    yield built
    client = docker.from_env()
    for image in {(i["name"], i["id"]) for i in built}:
        name, image_id = image
        try:
            if client.images.get(name).id == image_id:  # still ours: nobody re-tagged it since
                client.images.remove(name)
        except docker.errors.APIError:
            pass  # gone already, or in use by someone else's container: leave it


@pytest.fixture(scope="session")
def log_dir_files() -> Iterator[None]:
    """Put the stack's host log dir back as it was: remove what the runs added to it."""
    created = next((p for p in (LOG_DIR.parent.parent, LOG_DIR.parent, LOG_DIR) if not p.exists()), None)
    before = set(LOG_DIR.iterdir()) if created is None else set()
    yield
    if created is not None:
        shutil.rmtree(created, ignore_errors=True)
        return
    for path in set(LOG_DIR.iterdir()) - before:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


@pytest.fixture
def deployer(
    repo_root: Path,
    tmp_path: Path,
    base_image: str,
    deploy_images: list[dict[str, str]],
    log_dir_files: None,
) -> Iterator[StackDeployer]:
    yield from make_deployer(repo_root, tmp_path, base_image, deploy_images)


@pytest.fixture(scope="module")
def deployed(
    repo_root: Path,
    tmp_path_factory: pytest.TempPathFactory,
    base_image: str,
    deploy_images: list[dict[str, str]],
    log_dir_files: None,
) -> Iterator[tuple[StackDeployer, StackRun]]:
    """One successful deploy of the test stack, shared by the tests that only look at it."""
    for deployer in make_deployer(repo_root, tmp_path_factory.mktemp("deploy"), base_image, deploy_images):
        run = deployer.up()
        assert run.error is None, f"the deploy failed:\n{run.error}"
        yield deployer, run
