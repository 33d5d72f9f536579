"""Issue 10's points 5 and 10 against a real API server: the real engine and Kubernetes provider on the
throw-away control plane of tests/engine/cluster.py (kube-apiserver & co built from Go modules, kwok's
fake nodes; docs/engine.md). `imageRef` is pinned, so nothing is built.

- Point 5: the Service and the PodDisruptionBudget are created only once the Deployment rolled out.
- Point 10: after an out-of-band `kubectl scale`, the next `pulumi up` that changes the Deployment
  succeeds and takes `spec.replicas` back (the `pulumi.com/patchForce` annotation: the provider built
  here, 4.25.0, predates the provider option `enablePatchForce` and ignores it); the same program with
  the force off fails on the field-manager conflict, which is what the decision avoids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.contract import PROJECT
from tests.engine.cluster import KwokCluster
from tests.support.engine import EngineProject, EngineRun, engine_tools
from tests.support.pulumi_mocks import TEST_SECRETS
from tests.support.resource_types import DEPLOYMENT, JOB, POD_DISRUPTION_BUDGET, SERVICE

NAMESPACE = "microservice-model"  # Pulumi.prod.yaml
REPLICAS = 3  # Pulumi.prod.yaml
# Where the program asks for force: the provider option and the objects' annotation.
FORCE = {
    Path("components/kubernetes/__init__.py"): ("enable_patch_force=True", "enable_patch_force=False"),
    Path("components/kubernetes/api.py"): (
        'PATCH_FORCE = {"pulumi.com/patchForce": "true"}',
        "PATCH_FORCE: dict[str, str] = {}",
    ),
}


def image(label: str) -> str:
    return (
        f"registry.example.com/microservice-model/service@sha256:{hashlib.sha256(label.encode()).hexdigest()}"
    )


@dataclass
class Runs:
    first: EngineRun
    forced: EngineRun
    replicas_after_forced: int
    unforced: EngineRun
    replicas_after_unforced: int


@pytest.fixture(scope="module")
def runs() -> Iterator[Runs]:
    cluster = KwokCluster(failing_image=image("never-used"))
    project = EngineProject(engine_tools(), "prod")

    def up(config: dict[str, str], secrets: dict[str, str] | None = None) -> EngineRun:
        return project.run("up", config=config, secrets=secrets, render=False, timeout=900)

    def scale_out_of_band() -> None:
        cluster.kubectl("scale", "deployment", PROJECT, "-n", NAMESPACE, "--replicas=5")

    def replicas() -> int:
        return int(cluster.get("deployment", PROJECT, "-n", NAMESPACE)["spec"]["replicas"])

    try:
        access = {f"{PROJECT}:kubeconfig": str(cluster.kubeconfig), f"{PROJECT}:kubeContext": cluster.context}
        secrets = {f"{PROJECT}:{key}": value for key, value in TEST_SECRETS["prod"].items()}
        first = up({**access, f"{PROJECT}:imageRef": image("first")}, secrets)
        scale_out_of_band()
        forced = up({f"{PROJECT}:imageRef": image("second")})
        after_forced = replicas()
        # The same program with the force off (in the engine's copy of it, never here).
        for path, (forced_line, unforced_line) in FORCE.items():
            module = project.project_dir / path
            source = module.read_text()
            assert source.count(forced_line) == 1, f"{path} changed shape: update this test"
            module.write_text(source.replace(forced_line, unforced_line))
        scale_out_of_band()
        unforced = up({f"{PROJECT}:imageRef": image("third")})
        yield Runs(first, forced, after_forced, unforced, replicas())
        project.run("destroy", render=False, timeout=900)
    finally:
        project.cleanup()
        cluster.delete()


def test_service_and_budget_are_created_after_the_rollout(runs: Runs) -> None:
    assert runs.first.error is None, runs.first.error
    order = [step["type"] for step in runs.first.steps if step["op"] == "create"]
    assert order.index(JOB) < order.index(DEPLOYMENT) < order.index(SERVICE), order
    assert order.index(DEPLOYMENT) < order.index(POD_DISRUPTION_BUDGET), order


def test_update_after_kubectl_scale_takes_the_declared_replicas_back(runs: Runs) -> None:
    assert runs.forced.error is None, runs.forced.error
    assert runs.replicas_after_forced == REPLICAS


def test_without_patch_force_the_same_update_fails_on_the_field_manager_conflict(runs: Runs) -> None:
    assert runs.unforced.error is not None, "an update over kubectl's .spec.replicas must conflict"
    assert "conflict" in runs.unforced.error.lower(), runs.unforced.error[-2000:]
    assert ".spec.replicas" in runs.unforced.error, runs.unforced.error[-2000:]
    assert runs.replicas_after_unforced == 5, "kubectl's value stays: the update was refused"
