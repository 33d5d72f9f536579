"""Feed resources to the pack the way pulumi-policy does: real ResourceValidationArgs and
StackValidationArgs, props wrapped in pulumi-policy's unknown-checking proxy, violations collected."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

DIGEST = "sha256:" + "a" * 64
IMAGE = f"registry.example/microservice.model@{DIGEST}"


def urn(resource_type: str, name: str) -> str:
    return f"urn:pulumi:test::microservice-model::{resource_type}::{name}"


def options(additional_secret_outputs: Sequence[str] = ()) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=list(additional_secret_outputs),
    )


def check_resource(
    policy: Policy,
    resource_type: str,
    props: Mapping[str, Any],
    *,
    name: str = "web",
    config: Mapping[str, Any] | None = None,
) -> list[str]:
    """Run one resource policy on one resource; return the violation messages in order."""
    assert isinstance(policy, ResourceValidationPolicy)
    args = ResourceValidationArgs(
        resource_type,
        unknown_checking_proxy(dict(props)),
        urn(resource_type, name),
        name,
        options(),
        None,
        config,
    )
    messages: list[str] = []

    def report_violation(message: str, urn: str | None = None) -> None:
        messages.append(message)

    policy.validate(args, report_violation)
    return messages


def policy_resource(
    resource_type: str,
    name: str,
    props: Mapping[str, Any],
    dependencies: Sequence[PolicyResource] = (),
    property_dependencies: Mapping[str, list[PolicyResource]] | None = None,
) -> PolicyResource:
    return PolicyResource(
        resource_type,
        unknown_checking_proxy(dict(props)),
        urn(resource_type, name),
        name,
        options(),
        None,
        None,
        list(dependencies),
        dict(property_dependencies or {}),
    )


def check_stack(policy: Policy, resources: Sequence[PolicyResource]) -> list[tuple[str, str | None]]:
    """Run one stack policy; return (message, urn) pairs in order."""
    assert isinstance(policy, StackValidationPolicy)
    found: list[tuple[str, str | None]] = []

    def report_violation(message: str, urn: str | None = None) -> None:
        found.append((message, urn))

    policy.validate(StackValidationArgs(list(resources)), report_violation)
    return found


def k8s_container(**overrides: Any) -> dict[str, Any]:
    """A container that passes every rule; override fields to break one."""
    container: dict[str, Any] = {
        "name": "api",
        "image": IMAGE,
        "ports": [{"containerPort": 8000}],
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
        "resources": {"limits": {"cpu": "1", "memory": "512Mi"}},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8000}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8000}},
        "env": [
            {"name": "RUNTIME_ENV", "value": "prod"},
            {"name": "TOKEN_TTL_SECONDS", "value": "3600"},
            {"name": "SECRET_KEY", "valueFrom": {"secretKeyRef": {"name": "app", "key": "secretKey"}}},
        ],
    }
    container.update(overrides)
    return container


def deployment(*containers: dict[str, Any], pod_security: dict[str, Any] | None = None) -> dict[str, Any]:
    pod: dict[str, Any] = {"containers": list(containers) or [k8s_container()]}
    if pod_security is not None:
        pod["securityContext"] = pod_security
    return {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": pod}}}


def job(*containers: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "spec": {"template": {"spec": {"containers": list(containers)}}},
    }


def docker_container(**overrides: Any) -> dict[str, Any]:
    """Docker container inputs that pass every rule (as the engine names them)."""
    props: dict[str, Any] = {
        "name": "microservice.model",
        "image": DIGEST,
        "user": "10001:10001",
        "ports": [{"internal": 8000, "external": 8083, "ip": "127.0.0.1", "protocol": "tcp"}],
        "envs": ["RUNTIME_ENV=test", "SECRET_KEY=from-a-pulumi-secret"],
    }
    props.update(overrides)
    return props
