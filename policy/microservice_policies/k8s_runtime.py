"""Rules: Kubernetes containers have resource limits; serving containers have readiness and
liveness probes (a Job's container runs to completion, so it needs limits but no probes); no pod
mounts a service-account token (the app never calls the Kubernetes API)."""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .contract import LIVENESS_PATH, READINESS_PATH, SERVICE_PORT
from .resource_types import K8S_SERVING_WORKLOADS, K8S_WORKLOADS
from .workloads import containers, kind_of, pod_spec

REQUIRED_LIMITS = ("cpu", "memory")
REQUIRED_PROBES = ("readinessProbe", "livenessProbe")


def validate_limits(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in K8S_WORKLOADS:
        return
    for container in containers(args.resource_type, args.name, args.props):
        limits = (container.spec.get("resources") or {}).get("limits") or {}
        missing = [key for key in REQUIRED_LIMITS if not limits.get(key)]
        if missing:
            names = ", ".join(f"resources.limits.{key}" for key in missing)
            report_violation(
                f"{container.label} has no {names}: set cpu and memory limits so one pod "
                "cannot starve the node.",
                None,
            )


def validate_probes(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in K8S_SERVING_WORKLOADS:
        return
    for container in containers(args.resource_type, args.name, args.props, include_init=False):
        missing = [probe for probe in REQUIRED_PROBES if not container.spec.get(probe)]
        if missing:
            report_violation(
                f"{container.label} has no {' and no '.join(missing)}: the service answers "
                f"readiness on {READINESS_PATH} and liveness on {LIVENESS_PATH} (port {SERVICE_PORT}).",
                None,
            )


def validate_no_token(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in K8S_WORKLOADS:
        return
    if pod_spec(args.resource_type, args.props).get("automountServiceAccountToken") is not False:
        report_violation(
            f"{kind_of(args.resource_type)} '{args.name}' mounts a service-account token (its pod spec does "
            "not set automountServiceAccountToken: false): the app never calls the Kubernetes API, so a "
            "token would only serve whoever takes over the pod; set it to false.",
            None,
        )


resource_limits = ResourceValidationPolicy(
    name="k8s-resource-limits",
    description="Kubernetes containers set cpu and memory limits.",
    validate=validate_limits,
)

probes = ResourceValidationPolicy(
    name="k8s-probes",
    description="Kubernetes serving containers have a readiness and a liveness probe.",
    validate=validate_probes,
)

no_service_account_token = ResourceValidationPolicy(
    name="k8s-no-service-account-token",
    description="Kubernetes pods of the app mount no service-account token.",
    validate=validate_no_token,
)
