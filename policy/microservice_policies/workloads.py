"""Read containers out of Kubernetes workload inputs, whatever the workload kind."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .resource_types import K8S_CRONJOB, K8S_POD


@dataclass(frozen=True)
class K8sContainer:
    """One container of a workload, with the pod spec it lives in (pod-level defaults apply)."""

    workload: str  # e.g. "Deployment 'web'"
    name: str
    spec: Mapping[str, Any]
    pod_spec: Mapping[str, Any]
    init: bool

    @property
    def label(self) -> str:
        kind = "init container" if self.init else "container"
        return f"{self.workload} {kind} '{self.name}'"


def kind_of(resource_type: str) -> str:
    """'kubernetes:apps/v1:Deployment' -> 'Deployment'."""
    return resource_type.rsplit(":", 1)[-1]


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    """The pod spec inside a workload's inputs (empty when the inputs have none)."""
    spec = props.get("spec") or {}
    if resource_type == K8S_POD:
        return spec
    if resource_type == K8S_CRONJOB:
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return (spec.get("template") or {}).get("spec") or {}


def containers(
    resource_type: str, name: str, props: Mapping[str, Any], *, include_init: bool = True
) -> Iterator[K8sContainer]:
    """Every container (and init container) of a workload, labelled for violation messages."""
    spec = pod_spec(resource_type, props)
    workload = f"{kind_of(resource_type)} '{name}'"
    groups = [("containers", False), ("initContainers", True)] if include_init else [("containers", False)]
    for key, init in groups:
        for index, container in enumerate(spec.get(key) or []):
            yield K8sContainer(workload, str(container.get("name") or f"#{index}"), container, spec, init)


def docker_env(envs: Any) -> dict[str, str]:
    """Docker's `envs` list ("NAME=value") as a dict; entries without '=' have an empty value."""
    result: dict[str, str] = {}
    for entry in envs or []:
        name, _, value = str(entry).partition("=")
        result[name] = value
    return result
