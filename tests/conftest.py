"""Fixtures shared by every test folder: the real Docker engine, the local base image and PostgreSQL.

Each one starts what it needs through the same scripts CI uses, and fails (never skips) with the
install hint when a tool is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

# Helpers such as tests.support.app.error_of assert on behalf of tests: rewrite them as pytest does
# test modules, so a failure shows the values. Must run before the first import of tests.support.
pytest.register_assert_rewrite("tests.support")

from tests.support import scripts  # noqa: E402 - after the registration
from tests.support.images import isolated_base_image, session_service_image  # noqa: E402
from tests.support.scripts import ScriptError  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent


def run_script(name: str) -> str:
    """Run one of scripts/*.sh and return its last line of output; fail the test with its stderr."""
    try:
        return scripts.run_script(name)
    except ScriptError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """A Docker engine that answers `docker info` (started by scripts/dockerd-up.sh if needed)."""
    run_script("dockerd-up.sh")


@pytest.fixture(scope="session")
def base_image(docker_engine: None) -> str:
    """The local stand-in for python:3.12-slim (debootstrap + docker import); returns its tag."""
    return run_script("base-image.sh")


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """SQLAlchemy URL of a PostgreSQL role that may create databases (scripts/postgres-up.sh)."""
    return run_script("postgres-up.sh")


@pytest.fixture(scope="session")
def session_base_image(base_image: str) -> Iterator[str]:
    """The local base image under this session's own image id (tests/support/images.py says why)."""
    yield from isolated_base_image(base_image)


@pytest.fixture(scope="session")
def service_image(session_base_image: str) -> Iterator[str]:
    """The service image built once from app/ on the local base image; yields its id, removed at the end.

    The build itself is the plain function tests.support.images.build_image (reused by bench/ and deploy).
    """
    yield from session_service_image(REPO_ROOT / "app", session_base_image)
