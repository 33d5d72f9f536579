"""`pulumi preview` (what PR checks run): the program completes while the image digest is still unknown."""

from __future__ import annotations

import pytest

from components.contract import CONTAINER_NAME
from tests.support.pulumi_mocks import is_unknown, run_program
from tests.support.resource_types import API_CONTAINER, DEPLOYMENT, FRONT_CONTAINER, JOB


@pytest.mark.parametrize("stack", ["test", "prod"])
def test_preview_completes_without_the_image_digest(stack: str) -> None:
    run = run_program(stack, preview=True)
    assert run.resources, "the preview registered nothing"
    assert is_unknown(run.exports["imageDigest"])


def test_preview_of_the_test_stack_shows_the_container_image_and_migration_as_unknown() -> None:
    run = run_program("test", preview=True)
    container = run.named(API_CONTAINER)
    assert is_unknown(container.inputs["image"])
    assert is_unknown(container.inputs["name"])  # behind the front: named after a hash of its inputs
    assert run.named(FRONT_CONTAINER).input("name") == CONTAINER_NAME  # the front owns the old name
    migration = run.named("migration-upgrade")
    assert is_unknown(migration.inputs["create"])


def test_preview_of_the_prod_stack_shows_the_job_name_and_pod_image_as_unknown() -> None:
    run = run_program("prod", preview=True)
    job = run.one(JOB)
    assert is_unknown(job.inputs["metadata"]["name"])
    deployment = run.one(DEPLOYMENT)
    assert deployment.input("metadata")["name"] == "microservice-model"
