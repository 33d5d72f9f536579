"""The engine's step for a declared container, after the Docker provider's diff: same, update or replace."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The container attributes Terraform's docker_container does not mark ForceNew (kreuzwerker/terraform-
# provider-docker, internal/provider/resource_docker_container.go), as Pulumi names them: a change to
# only these is an update, any other change a replacement.
UPDATABLE = {
    "attach", "containerReadRefreshTimeoutMilliseconds", "cpuPeriod", "cpuQuota", "cpuSet", "cpuShares",
    "destroyGraceSeconds", "healthcheck", "init", "logs", "maxRetryCount", "memory", "memorySwap",
    "mustRun", "removeVolumes", "restart", "rm", "start", "tmpfs", "wait", "waitTimeout",
}  # fmt: skip


@dataclass
class Plan:
    action: str  # same | update | replace | create
    reason: str


def container_plan(
    prev: dict[str, Any] | None, inputs: dict[str, Any], replace_on_changes: list[str]
) -> Plan:
    """The engine's step for a container: the provider's diff, then `replace_on_changes`.

    - changed attributes that are all UPDATABLE: an update, and the provider's update applies only
      the restart policy and resource limits to the running container (`ContainerSpec.update_in_place`);
    - any other changed attribute, or one named in `replace_on_changes` ("*" names all): a replacement;
    - a container kept as "failed to initialise" (FailedToInitialise) with nothing changed: an update,
      which changes nothing, so it stays as it is (unstarted or unhealthy) and the run succeeds, unless
      `replace_on_changes` has "*", for which the engine adds "#initerror" to the replace keys
      (pulumi/pkg/resource/deploy/step_generator.go, applyReplaceOnChanges).
    """
    if prev is None:
        return Plan("create", "new")
    keys = set(prev["inputs"]) | set(inputs)
    changed = sorted(key for key in keys if prev["inputs"].get(key) != inputs.get(key))
    init_errors = bool(prev.get("init_errors"))
    named = {path.split(".", 1)[0].split("[", 1)[0] for path in replace_on_changes}
    forced = [key for key in changed if key not in UPDATABLE]
    if "*" in named and (changed or init_errors):
        return Plan("replace", f"replace_on_changes *: changed {changed}, init errors: {init_errors}")
    if forced or named & set(changed):
        why = sorted(set(forced) | (named & set(changed)))
        return Plan("replace", f"changed {changed}: {why} force a new container")
    if changed or init_errors:
        return Plan("update", f"changed {changed} (in place), init errors: {init_errors}")
    return Plan("same", "unchanged")
