"""Stack rule (docker target): with a front proxy, only the front faces the host.

A Docker container labelled app.kubernetes.io/component=front (frontProxy nginx) owns the published
port; the app containers (component=api) then publish nothing, or requests could bypass the front's
buffering, limits and the real-client header, and the app containers could no longer run side by side
during a create-before-replace redeploy (two containers cannot publish one host port).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, StackValidationArgs, StackValidationPolicy

from .contract import API_COMPONENT, COMPONENT_LABEL
from .resource_types import DOCKER_CONTAINER

FRONT_COMPONENT = "front"  # components/docker/front: the front container's COMPONENT_LABEL value


def component(props: Mapping[str, Any]) -> str | None:
    for label in props.get("labels") or []:
        if label.get("label") == COMPONENT_LABEL:
            return str(label.get("value"))
    return None


def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    containers = [r for r in args.resources if r.resource_type == DOCKER_CONTAINER]
    if not any(component(r.props) == FRONT_COMPONENT for r in containers):
        return
    for resource in containers:
        if component(resource.props) == API_COMPONENT and resource.props.get("ports"):
            report_violation(
                f"Docker container '{resource.name}' publishes host ports behind a front proxy: only the "
                "front publishes; the app containers are reached on the private network under its alias.",
                resource.urn,
            )


front_owns_the_public_face = StackValidationPolicy(
    name="front-owns-the-public-face",
    description="With a front proxy container, the app containers publish no host port.",
    validate=validate,
)
