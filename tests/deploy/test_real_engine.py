"""Issue 10's Kubernetes points on the real Pulumi engine and Kubernetes provider (docs/engine.md).

The engine and the provider are built from Go modules (scripts/engine-tools.sh); there is no cluster,
so the provider renders the objects to files (`renderYamlToDirectory`, tests/support/engine.py), with
`imageRef` pinned so nothing is built. What that shows for real: the engine's step order (the Service
and the PodDisruptionBudget only after the Deployment) and that the provider takes the Job's
`replaceUnready` annotation and custom timeouts. A failed Job being replaced, and the Service await,
need an API server, which this machine does not have.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from components.contract import PROJECT
from tests.support.engine import EngineProject, EngineRun, engine_tools
from tests.support.pulumi_mocks import TEST_SECRETS
from tests.support.rendering import MANIFESTS
from tests.support.resource_types import DEPLOYMENT, JOB, POD_DISRUPTION_BUDGET, SERVICE


def documented_image() -> str:
    """The prod image docs/manifests/prod.yaml shows: pinned, so both renders name the same image."""
    jobs = [doc for doc in yaml.safe_load_all(MANIFESTS.read_text()) if doc and doc["kind"] == "Job"]
    return str(jobs[0]["spec"]["template"]["spec"]["containers"][0]["image"])


@pytest.fixture(scope="module")
def prod_up() -> Iterator[tuple[EngineRun, list[dict]]]:
    project = EngineProject(engine_tools(), "prod")
    try:
        up = project.run(
            "up",
            config={f"{PROJECT}:imageRef": documented_image()},
            secrets={f"{PROJECT}:{key}": value for key, value in TEST_SECRETS["prod"].items()},
        )
        objects = [doc for path in project.rendered_files() for doc in yaml.safe_load_all(path.read_text())]
        yield up, [doc for doc in objects if doc]
        project.run("destroy")
    finally:
        project.cleanup()


def test_real_engine_creates_the_service_and_budget_only_after_the_deployment(
    prod_up: tuple[EngineRun, list[dict]],
) -> None:
    up, _ = prod_up
    assert up.error is None, up.error
    # Steps are reported as they finish: with depends_on, the Service starts after the rollout.
    order = [step["type"] for step in up.steps if step["op"] == "create"]
    assert order.index(JOB) < order.index(DEPLOYMENT) < order.index(SERVICE), order
    assert order.index(DEPLOYMENT) < order.index(POD_DISRUPTION_BUDGET), order


def test_real_provider_takes_the_jobs_replace_unready_annotation_and_timeouts(
    prod_up: tuple[EngineRun, list[dict]],
) -> None:
    up, objects = prod_up
    assert up.error is None, up.error  # customTimeouts of 15m accepted by the engine
    [job] = [doc for doc in objects if doc["kind"] == "Job"]
    assert job["metadata"]["annotations"]["pulumi.com/replaceUnready"] == "true"
