"""images-by-digest: Docker containers and Kubernetes workloads reference images by digest."""

from __future__ import annotations

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from policy.microservice_policies.images import images_by_digest
from tests.support.policy import (
    DIGEST,
    IMAGE,
    check_resource,
    deployment,
    docker_container,
    job,
    k8s_container,
)
from tests.support.resource_types import CONTAINER, DEPLOYMENT, JOB

HINT = "reference the image by digest (name@sha256:<64 hex>, e.g. the docker.Image repo_digest)."


@pytest.mark.parametrize("image", [DIGEST, IMAGE, f"localhost:5000/team/app:1.2@{DIGEST}"])
def test_docker_container_with_digest_or_image_id_passes(image: str) -> None:
    assert check_resource(images_by_digest, CONTAINER, docker_container(image=image)) == []


def test_docker_container_on_latest_is_refused() -> None:
    props = docker_container(image="microservice.model:latest")
    assert check_resource(images_by_digest, CONTAINER, props) == [
        f"Docker container 'web' uses 'microservice.model:latest': ':latest' is never allowed: {HINT}"
    ]


def test_docker_container_on_a_version_tag_is_refused() -> None:
    props = docker_container(image="microservice.model:1.4.0")
    assert check_resource(images_by_digest, CONTAINER, props) == [
        f"Docker container 'web' uses 'microservice.model:1.4.0', which is not pinned by digest: {HINT}"
    ]


def test_short_or_uppercase_digest_is_not_a_digest() -> None:
    props = docker_container(image="app@sha256:abc123")
    assert check_resource(images_by_digest, CONTAINER, props) == [
        f"Docker container 'web' uses 'app@sha256:abc123', which is not pinned by digest: {HINT}"
    ]


def test_docker_container_without_image_is_refused() -> None:
    props = docker_container(image="")
    assert check_resource(images_by_digest, CONTAINER, props) == [
        f"Docker container 'web' has no image: {HINT}"
    ]


def test_deployment_by_digest_passes() -> None:
    assert check_resource(images_by_digest, DEPLOYMENT, deployment()) == []


def test_every_deployment_and_job_container_is_checked_by_name() -> None:
    props = deployment(k8s_container(), k8s_container(name="sidecar", image="busybox"))
    props["spec"]["template"]["spec"]["initContainers"] = [k8s_container(name="init", image="alpine:latest")]
    assert check_resource(images_by_digest, DEPLOYMENT, props, name="api") == [
        f"Deployment 'api' container 'sidecar' uses 'busybox', which is not pinned by digest: {HINT}",
        f"Deployment 'api' init container 'init' uses 'alpine:latest': ':latest' is never allowed: {HINT}",
    ]
    assert check_resource(images_by_digest, JOB, job(k8s_container(image="app:latest")), name="migrate") == [
        f"Job 'migrate' container 'api' uses 'app:latest': ':latest' is never allowed: {HINT}"
    ]


def test_other_resource_types_are_ignored() -> None:
    assert check_resource(images_by_digest, "docker:index/network:Network", {"name": "x"}) == []


def test_image_unknown_at_preview_raises_unknown_value_error() -> None:
    """pulumi-policy turns this into its advisory "can't run policy during preview" note."""
    props = docker_container(image=UNKNOWN_STRING_VALUE)
    with pytest.raises(UnknownValueError):
        check_resource(images_by_digest, CONTAINER, props)
