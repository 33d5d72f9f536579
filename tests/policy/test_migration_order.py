"""migration-before-service: the container / Deployment depends on the `flask db upgrade` run."""

from __future__ import annotations

from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policy.microservice_policies.migration_order import migration_before_service
from tests.support.policy import (
    check_stack,
    deployment,
    docker_container,
    job,
    k8s_container,
    policy_resource,
    resource_urn,
)
from tests.support.resource_types import COMMAND, CONTAINER, DEPLOYMENT, JOB

UPGRADE = "docker run --rm --env SECRET_KEY img@sha256:" + "a" * 64 + " flask db upgrade"


def migration_job() -> dict[str, object]:
    return job(k8s_container(command=["flask"], args=["db", "upgrade"]))


def test_container_depending_on_the_migration_command_passes() -> None:
    image = policy_resource("docker:index/image:Image", "image", {})
    migrate = policy_resource(COMMAND, "app-upgrade", {"create": UPGRADE}, [image])
    container = policy_resource(CONTAINER, "app-container", docker_container(), [migrate])
    assert check_stack(migration_before_service, [image, migrate, container]) == []


def test_transitive_and_property_dependencies_count() -> None:
    migrate = policy_resource(COMMAND, "app-upgrade", {"create": UPGRADE})
    between = policy_resource("command:local:Command", "warm-cache", {"create": "true"}, [migrate])
    container = policy_resource(
        CONTAINER, "app-container", docker_container(), property_dependencies={"image": [between]}
    )
    assert check_stack(migration_before_service, [migrate, between, container]) == []


def test_container_without_migration_dependency_is_refused() -> None:
    migrate = policy_resource(COMMAND, "app-upgrade", {"create": UPGRADE})
    container = policy_resource(CONTAINER, "app-container", docker_container())
    assert check_stack(migration_before_service, [migrate, container]) == [
        (
            "Docker container 'app-container' does not depend on a migration: make it depend on the Command "
            "(Docker) or Job (Kubernetes) that runs `flask db upgrade` with the same image, so the schema is "
            "upgraded before the new version serves.",
            resource_urn(CONTAINER, "app-container"),
        )
    ]


def test_a_command_that_is_not_a_migration_does_not_count() -> None:
    other = policy_resource(COMMAND, "mkdir-logs", {"create": "mkdir -p /tmp/data/test/logs"})
    container = policy_resource(CONTAINER, "app-container", docker_container(), [other])
    assert [message for message, _ in check_stack(migration_before_service, [other, container])] == [
        "Docker container 'app-container' does not depend on a migration: make it depend on the Command "
        "(Docker) or Job (Kubernetes) that runs `flask db upgrade` with the same image, so the schema is "
        "upgraded before the new version serves."
    ]


def test_deployment_depending_on_the_migration_job_passes() -> None:
    migrate = policy_resource(JOB, "app-migrate", migration_job())
    web = policy_resource(DEPLOYMENT, "app-deployment", deployment(), [migrate])
    assert check_stack(migration_before_service, [migrate, web]) == []


def test_deployment_without_the_job_is_refused() -> None:
    migrate = policy_resource(JOB, "app-migrate", migration_job())
    web = policy_resource(DEPLOYMENT, "app-deployment", deployment())
    assert check_stack(migration_before_service, [migrate, web]) == [
        (
            "Deployment 'app-deployment' does not depend on a migration: make it depend on the Command "
            "(Docker) or Job (Kubernetes) that runs `flask db upgrade` with the same image, so the schema is "
            "upgraded before the new version serves.",
            resource_urn(DEPLOYMENT, "app-deployment"),
        )
    ]


def test_at_preview_an_unknown_command_is_recognised_by_its_name() -> None:
    migrate = policy_resource(COMMAND, "app-migration-upgrade", {"create": UNKNOWN_STRING_VALUE})
    unnamed = policy_resource(COMMAND, "app-step", {"create": UNKNOWN_STRING_VALUE})
    good = policy_resource(CONTAINER, "good", docker_container(), [migrate])
    bad = policy_resource(CONTAINER, "bad", docker_container(), [unnamed])
    found = check_stack(migration_before_service, [migrate, unnamed, good, bad])
    assert [found_urn for _, found_urn in found] == [resource_urn(CONTAINER, "bad")]


def test_stack_without_service_has_nothing_to_order() -> None:
    migrate = policy_resource(JOB, "app-migrate", migration_job())
    assert check_stack(migration_before_service, [migrate]) == []
