"""Rule: containers and pods run as a non-root user.

Docker target: the rule reads the container's `user` input. The image's own USER is not visible
to a policy (the image is built during the deploy and its config is not a resource input), so an
unset `user` is a violation: the program must say which user it runs as (the image's is 10001).
Kubernetes: the container's securityContext, falling back to the pod's, must set runAsNonRoot: true
or a runAsUser other than 0, and must not set runAsUser: 0 or runAsNonRoot: false.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .contract import APP_UID
from .resource_types import DOCKER_CONTAINER, K8S_WORKLOADS
from .workloads import K8sContainer, containers

ROOT_NAMES = {"0", "root"}


def docker_user_problem(user: object) -> str | None:
    if not user:
        return (
            "sets no 'user'; the image's USER cannot be checked at preview time, so set user "
            f"to a non-root UID (the image runs as {APP_UID}:{APP_UID})"
        )
    uid = str(user).split(":", 1)[0]
    if uid in ROOT_NAMES:
        return f"runs as user '{user}', which is root: set a non-root UID such as {APP_UID}:{APP_UID}"
    return None


def _effective(container: K8sContainer, key: str) -> Any:
    """A securityContext field: the container's value wins over the pod's."""
    own: Mapping[str, Any] = container.spec.get("securityContext") or {}
    if key in own and own[key] is not None:
        return own[key]
    pod: Mapping[str, Any] = container.pod_spec.get("securityContext") or {}
    return pod.get(key)


def k8s_problem(container: K8sContainer) -> str | None:
    run_as_user = _effective(container, "runAsUser")
    run_as_non_root = _effective(container, "runAsNonRoot")
    if run_as_user == 0:
        return f"runs as root (runAsUser: 0): set runAsUser to a non-root UID such as {APP_UID}"
    if run_as_non_root is False:
        return "sets runAsNonRoot: false: set runAsNonRoot: true"
    if run_as_non_root is not True and not run_as_user:
        return (
            "may run as root: set securityContext.runAsNonRoot: true or a runAsUser other than 0 "
            "(on the container or the pod)"
        )
    return None


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == DOCKER_CONTAINER:
        problem = docker_user_problem(args.props.get("user"))
        if problem:
            report_violation(f"Docker container '{args.name}' {problem}.", None)
    elif args.resource_type in K8S_WORKLOADS:
        for container in containers(args.resource_type, args.name, args.props):
            problem = k8s_problem(container)
            if problem:
                report_violation(f"{container.label} {problem}.", None)


run_as_non_root = ResourceValidationPolicy(
    name="run-as-non-root",
    description="Containers and pods run as a non-root user.",
    validate=validate,
)
