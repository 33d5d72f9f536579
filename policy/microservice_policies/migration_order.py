"""Stack rule: the migration runs before the service.

A migration is a local Command whose `create` runs `flask db upgrade` (Docker target) or a Job whose
container runs it (Kubernetes target). Each service resource, a Docker container or a Deployment,
must depend on one, directly or through other dependencies, so the new schema is in place before
the new version serves. At preview time a Command's `create` may embed the unknown image digest;
then its name (containing 'migrat') identifies it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from .contract import MIGRATION_COMMAND as CONTRACT_MIGRATION_COMMAND
from .resource_types import DOCKER_CONTAINER, K8S_DEPLOYMENT, K8S_JOB, LOCAL_COMMAND
from .workloads import containers

MIGRATION_COMMAND = " ".join(CONTRACT_MIGRATION_COMMAND)  # `flask db upgrade`, also inside `docker run ...`
SERVICES = {DOCKER_CONTAINER: "Docker container", K8S_DEPLOYMENT: "Deployment"}


def _command_text(resource: PolicyResource) -> str:
    if resource.resource_type == LOCAL_COMMAND:
        return str(resource.props.get("create") or "")
    parts: list[str] = []
    for container in containers(resource.resource_type, resource.name, resource.props):
        parts += [str(p) for p in (container.spec.get("command") or [])]
        parts += [str(p) for p in (container.spec.get("args") or [])]
    return " ".join(parts)


def is_migration(resource: PolicyResource) -> bool:
    if resource.resource_type not in (LOCAL_COMMAND, K8S_JOB):
        return False
    try:
        return MIGRATION_COMMAND in _command_text(resource)
    except UnknownValueError:  # preview: the command embeds the not-yet-built image digest
        return "migrat" in resource.name.lower()


def upstream(resource: PolicyResource) -> Iterator[PolicyResource]:
    """Every resource `resource` waits for: dependencies and property dependencies, transitively."""
    seen: set[str] = set()
    todo: list[PolicyResource] = [resource]
    while todo:
        current = todo.pop()
        direct: list[PolicyResource] = list(current.dependencies)
        for deps in current.property_dependencies.values():
            direct += deps
        for dep in direct:
            if dep.urn not in seen:
                seen.add(dep.urn)
                todo.append(dep)
                yield dep


def services(resources: Iterable[PolicyResource]) -> Iterator[PolicyResource]:
    return (r for r in resources if r.resource_type in SERVICES)


def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for service in services(args.resources):
        if not any(is_migration(dep) for dep in upstream(service)):
            kind = SERVICES[service.resource_type]
            report_violation(
                f"{kind} '{service.name}' does not depend on a migration: make it depend on the "
                "Command (Docker) or Job (Kubernetes) that runs `flask db upgrade` with the same image, "
                "so the schema is upgraded before the new version serves.",
                service.urn,
            )


migration_before_service = StackValidationPolicy(
    name="migration-before-service",
    description="The service (container or Deployment) depends on the migration (`flask db upgrade`).",
    validate=validate,
)
