"""Fixtures for carrying the `test` stack out on the real Docker engine (see docs/live-deploy.md).

`StackDeployer.up()` runs the real program once (tests/support/docker_engine/, in its own process) with
the stack's real config; the `base_image` fixture's tag replaces python:3.12-slim, which cannot be
pulled here, and the `front_image` fixture's (Debian testing's nginx, on a local base of its own) stands
in for the official nginx image. `deployer` and `deployed` run the stack with frontProxy none (today's
single published container); `front_deployer` and `front_program` with the front (frontProxy nginx, the
default). Whatever a deployer created carries the label microservice-model.deploy-test=<run id> and is
removed when the fixture ends, whether the test passed or not.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.docker_engine.deployer import (
    StackDeployer,
    StackRun,
    copy_program,
    make_deployer,
    remove_images,
    restored_log_dir,
)
from tests.support.images import session_front_image


@pytest.fixture(scope="session")
def deploy_images(docker_engine: None) -> Iterator[list[dict[str, str]]]:
    """Images the deploy runs built; kept for the session (build cache), untagged at its end."""
    built: list[dict[str, str]] = []
    yield built
    remove_images(built)


@pytest.fixture(scope="session")
def log_dir_files() -> Iterator[None]:
    """Put the stack's host log dir back as it was: remove what the runs added to it."""
    with restored_log_dir():
        yield


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


@pytest.fixture(scope="session")
def front_image(docker_engine: None) -> Iterator[str]:
    """The tests' nginx image (Debian testing's nginx, tests/support/images.py), by image ID; removed at
    the end."""
    yield from session_front_image()


@pytest.fixture
def front_program(repo_root: Path, tmp_path: Path) -> Path:
    """A copy of the program, so a test can change its code without touching the work tree."""
    return copy_program(tmp_path / "program", repo_root)


@pytest.fixture
def front_deployer(
    front_program: Path,
    tmp_path: Path,
    base_image: str,
    front_image: str,
    deploy_images: list[dict[str, str]],
    log_dir_files: None,
) -> Iterator[StackDeployer]:
    """Deploys `front_program` with frontProxy nginx (the front on 8083, app containers behind it)."""
    workdir = tmp_path / "runs"
    workdir.mkdir()
    yield from make_deployer(front_program, workdir, base_image, deploy_images, front_image)
