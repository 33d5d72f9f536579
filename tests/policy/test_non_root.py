"""run-as-non-root: Docker `user` must be set and non-root; k8s securityContext must exclude root."""

from __future__ import annotations

import pytest

from policy.microservice_policies.non_root import run_as_non_root
from tests.support.policy import check_resource, deployment, docker_container, job, k8s_container
from tests.support.resource_types import CONTAINER, DEPLOYMENT, JOB


@pytest.mark.parametrize("user", ["10001:10001", "10001", "app"])
def test_docker_container_with_non_root_user_passes(user: str) -> None:
    assert check_resource(run_as_non_root, CONTAINER, docker_container(user=user)) == []


@pytest.mark.parametrize("user", ["root", "0", "0:0", "root:root", "0:10001"])
def test_docker_container_as_root_is_refused(user: str) -> None:
    assert check_resource(run_as_non_root, CONTAINER, docker_container(user=user)) == [
        f"Docker container 'web' runs as user '{user}', which is root: "
        "set a non-root UID such as 10001:10001."
    ]


def test_docker_container_without_user_is_refused_because_the_image_user_is_not_visible() -> None:
    props = docker_container()
    del props["user"]
    assert check_resource(run_as_non_root, CONTAINER, props) == [
        "Docker container 'web' sets no 'user'; the image's USER cannot be checked at preview time, so set "
        "user to a non-root UID (the image runs as 10001:10001)."
    ]


def test_deployment_with_container_security_context_passes() -> None:
    assert check_resource(run_as_non_root, DEPLOYMENT, deployment()) == []


def test_pod_level_security_context_covers_containers() -> None:
    props = deployment(k8s_container(securityContext={}), pod_security={"runAsNonRoot": True})
    assert check_resource(run_as_non_root, DEPLOYMENT, props) == []
    props = deployment(k8s_container(securityContext=None), pod_security={"runAsUser": 10001})
    assert check_resource(run_as_non_root, DEPLOYMENT, props) == []


def test_container_without_any_security_context_may_run_as_root() -> None:
    props = deployment(k8s_container(securityContext=None))
    assert check_resource(run_as_non_root, DEPLOYMENT, props, name="api") == [
        "Deployment 'api' container 'api' may run as root: set securityContext.runAsNonRoot: true or a "
        "runAsUser other than 0 (on the container or the pod)."
    ]


def test_container_run_as_user_zero_overrides_a_non_root_pod() -> None:
    props = deployment(
        k8s_container(securityContext={"runAsUser": 0}),
        pod_security={"runAsNonRoot": True, "runAsUser": 10001},
    )
    assert check_resource(run_as_non_root, DEPLOYMENT, props, name="api") == [
        "Deployment 'api' container 'api' runs as root (runAsUser: 0): set runAsUser to a non-root UID "
        "such as 10001."
    ]


def test_run_as_non_root_false_is_refused_in_a_job() -> None:
    props = job(k8s_container(securityContext={"runAsNonRoot": False}))
    assert check_resource(run_as_non_root, JOB, props, name="migrate") == [
        "Job 'migrate' container 'api' sets runAsNonRoot: false: set runAsNonRoot: true."
    ]
