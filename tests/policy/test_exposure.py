"""restricted-stack-exposure: on `test`, no LoadBalancer and no host port but the configured one."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from policy.microservice_policies.exposure import exposure
from tests.support.policy import check_resource, deployment, docker_container, k8s_container
from tests.support.resource_types import CONTAINER, DEPLOYMENT, SERVICE

OnStack = Callable[[str], None]


def service(service_type: str) -> dict[str, object]:
    return {"spec": {"type": service_type, "ports": [{"port": 8083, "targetPort": 8000}]}}


def test_load_balancer_is_refused_on_test(on_stack: OnStack) -> None:
    on_stack("test")
    assert check_resource(exposure, SERVICE, service("LoadBalancer"), name="svc") == [
        "Service 'svc' is of type LoadBalancer on stack 'test': use ClusterIP (LoadBalancer is refused on "
        "stacks test)."
    ]
    assert check_resource(exposure, SERVICE, service("ClusterIP"), name="svc") == []


def test_node_ports_other_than_the_configured_one_are_refused_on_test(on_stack: OnStack) -> None:
    on_stack("test")
    props = {"spec": {"type": "NodePort", "ports": [{"port": 8083, "nodePort": 30083}, {"port": 9000}]}}
    assert check_resource(exposure, SERVICE, props, name="svc") == [
        "Service 'svc' opens node port 30083 on stack 'test': only the configured port 8083 is allowed; "
        "use ClusterIP.",
        "Service 'svc' opens a random node port on stack 'test': only the configured port 8083 is allowed; "
        "use ClusterIP.",
    ]
    allowed = {"spec": {"type": "NodePort", "ports": [{"port": 8083, "nodePort": 8083}]}}
    assert check_resource(exposure, SERVICE, allowed, name="svc") == []


def test_load_balancer_is_allowed_on_prod(on_stack: OnStack) -> None:
    on_stack("prod")
    assert check_resource(exposure, SERVICE, service("LoadBalancer")) == []


def test_configured_port_passes_on_test(on_stack: OnStack) -> None:
    on_stack("test")
    assert check_resource(exposure, CONTAINER, docker_container()) == []


def test_other_host_port_is_refused_on_test(on_stack: OnStack) -> None:
    on_stack("test")
    props = docker_container(
        ports=[{"internal": 8000, "external": 8083}, {"internal": 5432, "external": 5432}]
    )
    assert check_resource(exposure, CONTAINER, props) == [
        "Docker container 'web' publishes host port 5432 on stack 'test': only the configured port 8083 is "
        "allowed."
    ]


def test_random_host_port_is_refused_on_test(on_stack: OnStack) -> None:
    on_stack("test")
    props = docker_container(ports=[{"internal": 8000}])
    assert check_resource(exposure, CONTAINER, props) == [
        "Docker container 'web' publishes container port 8000 on a random host port on stack 'test': publish "
        "it on the configured port 8083 only."
    ]


def test_policy_config_changes_the_port_and_the_stacks(on_stack: OnStack) -> None:
    on_stack("staging")
    config = {"allowedHostPort": 9090, "restrictedStacks": ["staging"]}
    assert check_resource(exposure, CONTAINER, docker_container(), config=config) == [
        "Docker container 'web' publishes host port 8083 on stack 'staging': only the configured port 9090 "
        "is allowed."
    ]
    on_stack("test")
    assert check_resource(exposure, CONTAINER, docker_container(), config=config) == []


def test_kubernetes_host_port_is_refused_on_test(on_stack: OnStack) -> None:
    on_stack("test")
    props = deployment(k8s_container(ports=[{"containerPort": 8000, "hostPort": 80}]))
    assert check_resource(exposure, DEPLOYMENT, props, name="api") == [
        "Deployment 'api' container 'api' uses hostPort 80 on stack 'test': only the configured port 8083 is "
        "allowed."
    ]


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_other_stacks_may_publish_any_port(on_stack: OnStack, stack: str) -> None:
    on_stack(stack)
    props = docker_container(ports=[{"internal": 8000, "external": 80}])
    assert check_resource(exposure, CONTAINER, props) == []


def test_config_schema_declares_the_defaults() -> None:
    assert exposure.config_schema is not None
    properties = exposure.config_schema.properties
    assert properties["allowedHostPort"]["default"] == 8083
    assert properties["restrictedStacks"]["default"] == ["test"]
