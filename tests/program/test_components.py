"""Components on their own, in the classic Pulumi unit-test style: each test RETURNS its Output.

`pulumi.runtime.test` awaits the returned Output, so an assertion inside `apply` that fails fails
the test (an apply that nobody awaits could never fail it).
"""

from __future__ import annotations

import pulumi
import pytest

from components.image import ServiceImage, ServiceImageArgs
from components.kubernetes.migration import KubernetesMigration, KubernetesMigrationArgs, job_name
from components.kubernetes.pod import PodEnv
from components.settings import parse_settings
from tests.support.pulumi_mocks import ProgramMocks, RecordingMonitor, start_mocks
from tests.support.stack_config import TEST_SECRET_KEY

DIGEST = "sha256:" + "ab12" * 16


@pytest.fixture
def monitor() -> RecordingMonitor:
    recording = RecordingMonitor(ProgramMocks())
    start_mocks(recording, "test")
    return recording


@pulumi.runtime.test
def test_local_image_ref_is_the_image_id_digest(monitor: RecordingMonitor) -> pulumi.Output[None]:
    image = ServiceImage(
        "image", ServiceImageArgs(settings=parse_settings("test", {}, set()).image, registry_password=None)
    )

    def check(ref: str) -> None:
        assert ref.startswith("sha256:")
        assert len(ref) == len("sha256:") + 64

    return image.ref.apply(check)


@pulumi.runtime.test
def test_migration_job_is_named_after_the_image_digest(monitor: RecordingMonitor) -> pulumi.Output[None]:
    settings = parse_settings(
        "test",
        {
            "target": "kubernetes",
            "imageRepository": "registry.example.com/team/service",
            "databaseUrl": "postgresql+psycopg://u:p@db/model",
            "platform": "linux/amd64",
            "secretKey": TEST_SECRET_KEY,
        },
        {"databaseUrl", "secretKey"},
    )
    migration = KubernetesMigration(
        "migration",
        KubernetesMigrationArgs(
            settings=settings.kubernetes,
            image_ref=pulumi.Output.from_input(f"registry.example.com/team/service@{DIGEST}"),
            env=PodEnv(
                namespace=pulumi.Output.from_input("microservice-model"),
                config_map_name=pulumi.Output.from_input("env"),
                secret_name=pulumi.Output.from_input("secret-env"),
                pull_secret_name=None,
            ),
            labels=settings.labels,
        ),
    )

    def check(name: str) -> None:
        assert name == "microservice-model-migrate-ab12ab12ab12"

    return migration.job_name.apply(check)


def test_job_name_uses_the_digest_of_a_local_image_id_too() -> None:
    assert job_name(DIGEST) == "microservice-model-migrate-ab12ab12ab12"
