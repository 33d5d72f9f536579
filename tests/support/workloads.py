"""The one container of a Kubernetes workload (Deployment or Job) as the program registered it."""

from __future__ import annotations

from typing import Any

from tests.support.pulumi_mocks import Registration


def main_container(resource: Registration) -> dict[str, Any]:
    container: dict[str, Any]
    [container] = resource.input("spec")["template"]["spec"]["containers"]
    return container


def container_env(resource: Registration) -> dict[str, Any]:
    """The container's own env (name -> value), not what it gets from a ConfigMap or Secret."""
    return {env["name"]: env.get("value") for env in main_container(resource).get("env") or []}
