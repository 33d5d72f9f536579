"""k8s-resource-limits and k8s-probes: limits on every container, probes on serving containers."""

from __future__ import annotations

from policy.microservice_policies.k8s_runtime import no_service_account_token, probes, resource_limits
from tests.support.policy import check_resource, deployment, docker_container, job, k8s_container
from tests.support.resource_types import CONTAINER, DEPLOYMENT, JOB, STATEFULSET


def test_complete_deployment_passes_both_rules() -> None:
    assert check_resource(resource_limits, DEPLOYMENT, deployment()) == []
    assert check_resource(probes, DEPLOYMENT, deployment()) == []


def test_container_without_limits_is_refused() -> None:
    props = deployment(k8s_container(resources={"requests": {"cpu": "250m"}}))
    assert check_resource(resource_limits, DEPLOYMENT, props, name="api") == [
        "Deployment 'api' container 'api' has no resources.limits.cpu, resources.limits.memory: set cpu and "
        "memory limits so one pod cannot starve the node."
    ]


def test_container_with_only_a_cpu_limit_misses_memory() -> None:
    props = job(k8s_container(resources={"limits": {"cpu": "1"}}))
    assert check_resource(resource_limits, JOB, props, name="migrate") == [
        "Job 'migrate' container 'api' has no resources.limits.memory: set cpu and memory limits so one pod "
        "cannot starve the node."
    ]


def test_init_containers_need_limits_too() -> None:
    props = deployment()
    props["spec"]["template"]["spec"]["initContainers"] = [k8s_container(name="wait", resources=None)]
    assert check_resource(resource_limits, DEPLOYMENT, props, name="api") == [
        "Deployment 'api' init container 'wait' has no resources.limits.cpu, resources.limits.memory: "
        "set cpu and memory limits so one pod cannot starve the node."
    ]


def test_missing_probes_are_named() -> None:
    props = deployment(k8s_container(readinessProbe=None, livenessProbe=None))
    assert check_resource(probes, DEPLOYMENT, props, name="api") == [
        "Deployment 'api' container 'api' has no readinessProbe and no livenessProbe: the service answers "
        "readiness on /readyz and liveness on /healthz (port 8000)."
    ]
    only_readiness = deployment(k8s_container(livenessProbe=None))
    assert check_resource(probes, STATEFULSET, only_readiness, name="db") == [
        "StatefulSet 'db' container 'api' has no livenessProbe: the service answers readiness on /readyz and "
        "liveness on /healthz (port 8000)."
    ]


def test_jobs_need_no_probes() -> None:
    props = job(k8s_container(readinessProbe=None, livenessProbe=None))
    assert check_resource(probes, JOB, props) == []


def test_docker_containers_are_not_kubernetes_workloads() -> None:
    assert check_resource(resource_limits, CONTAINER, docker_container()) == []
    assert check_resource(probes, CONTAINER, docker_container()) == []


def test_pods_without_a_service_account_token_pass() -> None:
    assert check_resource(no_service_account_token, DEPLOYMENT, deployment()) == []
    assert check_resource(no_service_account_token, JOB, job(k8s_container())) == []


def test_a_pod_that_would_mount_a_token_is_refused() -> None:
    props = deployment()
    del props["spec"]["template"]["spec"]["automountServiceAccountToken"]  # Kubernetes' default: mount it
    assert check_resource(no_service_account_token, DEPLOYMENT, props, name="api") == [
        "Deployment 'api' mounts a service-account token (its pod spec does not set "
        "automountServiceAccountToken: false): the app never calls the Kubernetes API, so a token would only "
        "serve whoever takes over the pod; set it to false."
    ]
    props["spec"]["template"]["spec"]["automountServiceAccountToken"] = True
    assert len(check_resource(no_service_account_token, DEPLOYMENT, props)) == 1
    assert check_resource(no_service_account_token, CONTAINER, docker_container()) == []
