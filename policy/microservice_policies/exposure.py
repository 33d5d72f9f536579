"""Rule: on restricted stacks (default: `test`), no LoadBalancer Service and no host port other
than the configured one (default 8083): Docker published ports, Kubernetes hostPort and NodePort.

The stack name comes from the Pulumi runtime settings, which pulumi-policy fills from the engine's
PULUMI_STACK before every check. The allowed port and the stacks come from this policy's config
(`pulumi preview --policy-pack policy --policy-pack-config <file.json>`), with defaults below.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import pulumi
from pulumi_policy import (
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .contract import PUBLIC_PORT
from .resource_types import DOCKER_CONTAINER, K8S_SERVICE, K8S_WORKLOADS
from .workloads import containers

DEFAULT_HOST_PORT = PUBLIC_PORT  # the test stack publishes the contract's port
DEFAULT_RESTRICTED_STACKS = ("test",)

CONFIG_SCHEMA = PolicyConfigSchema(
    properties={
        "allowedHostPort": {
            "type": "integer",
            "minimum": 1,
            "maximum": 65535,
            "default": DEFAULT_HOST_PORT,
            "description": "The one host port a restricted stack may publish.",
        },
        "restrictedStacks": {
            "type": "array",
            "items": {"type": "string"},
            "default": list(DEFAULT_RESTRICTED_STACKS),
            "description": "Stacks on which LoadBalancer Services and other host ports are refused.",
        },
    }
)


def current_stack() -> str:
    """The stack being checked: pulumi-policy configures the runtime from the engine's PULUMI_STACK."""
    return pulumi.get_stack() or os.environ.get("PULUMI_STACK", "")


def _settings(config: Mapping[str, Any]) -> tuple[int, list[str]]:
    port = int(config.get("allowedHostPort", DEFAULT_HOST_PORT))
    stacks = [str(s) for s in config.get("restrictedStacks", DEFAULT_RESTRICTED_STACKS)]
    return port, stacks


def _port(value: Any) -> int | None:
    """Ports arrive as floats over gRPC (protobuf Struct numbers): 8083.0 -> 8083."""
    return None if value is None else int(value)


def _docker_host_ports(props: Mapping[str, Any]) -> Iterator[tuple[int | None, int | None]]:
    """(internal, external) for each published port; external None means Docker picks one."""
    for port in props.get("ports") or []:
        yield _port(port.get("internal")), _port(port.get("external"))


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    allowed, restricted = _settings(args.get_config())
    stack = current_stack()
    if stack not in restricted:
        return
    where = f"on stack '{stack}'"
    if args.resource_type == K8S_SERVICE:
        spec = args.props.get("spec") or {}
        service_type = spec.get("type")
        if service_type == "LoadBalancer":
            report_violation(
                f"Service '{args.name}' is of type LoadBalancer {where}: use ClusterIP "
                f"(LoadBalancer is refused on stacks {', '.join(restricted)}).",
                None,
            )
        elif service_type == "NodePort":  # a NodePort opens that port on every node: a host port
            for port in spec.get("ports") or []:
                node_port = _port(port.get("nodePort"))
                if node_port != allowed:
                    shown = "a random node port" if node_port is None else f"node port {node_port}"
                    report_violation(
                        f"Service '{args.name}' opens {shown} {where}: only the configured port "
                        f"{allowed} is allowed; use ClusterIP.",
                        None,
                    )
    elif args.resource_type == DOCKER_CONTAINER:
        for internal, external in _docker_host_ports(args.props):
            if external is None:
                report_violation(
                    f"Docker container '{args.name}' publishes container port {internal} on a random "
                    f"host port {where}: publish it on the configured port {allowed} only.",
                    None,
                )
            elif external != allowed:
                report_violation(
                    f"Docker container '{args.name}' publishes host port {external} {where}: only the "
                    f"configured port {allowed} is allowed.",
                    None,
                )
    elif args.resource_type in K8S_WORKLOADS:
        for container in containers(args.resource_type, args.name, args.props):
            for port in container.spec.get("ports") or []:
                host_port = _port(port.get("hostPort"))
                if host_port and host_port != allowed:
                    report_violation(
                        f"{container.label} uses hostPort {host_port} {where}: only the configured "
                        f"port {allowed} is allowed.",
                        None,
                    )


exposure = ResourceValidationPolicy(
    name="restricted-stack-exposure",
    description=(
        "No LoadBalancer Service and no host port other than the configured one on restricted stacks."
    ),
    validate=validate,
    config_schema=CONFIG_SCHEMA,
)
