"""Fixtures for the mocked program tests: each stack's program run once, shared by the tests reading it."""

from __future__ import annotations

import pytest

from tests.support.pulumi_mocks import ProgramRun, run_program


@pytest.fixture(scope="session")
def test_stack() -> ProgramRun:
    """The `test` stack (Pulumi.test.yaml, docker target) with frontProxy none: the single published
    container these tests describe (the front: `front_stack`, tests/program/test_docker_front.py)."""
    return run_program("test", overrides={"frontProxy": "none"})


@pytest.fixture(scope="session")
def front_stack() -> ProgramRun:
    """The `test` stack as declared (frontProxy nginx): the front, and the app containers behind it."""
    return run_program("test")


@pytest.fixture(scope="session")
def prod_stack() -> ProgramRun:
    """The `prod` stack (Pulumi.prod.yaml, kubernetes target) with test secrets set."""
    return run_program("prod")
