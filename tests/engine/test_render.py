"""Rung 2: the prod stack through the real engine and the real Kubernetes provider, no cluster.

`imageRef` is pinned to a digest (nothing is built, so no docker provider) and the provider renders
manifests to a directory (`renderYamlToDirectory`) instead of applying them. One lifecycle (conftest:
preview, up, a second up, destroy) is shared by these tests.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

from tests.engine.conftest import DOCUMENTED, IMAGE_REF, PROD_SECRETS, RenderedLifecycle
from tests.engine.manifests import differences, documents

KUBERNETES_VERSION = "1.34.0"  # what tests/program validates docs/manifests/prod.yaml against

# The Kubernetes objects of the prod stack, by Pulumi type; each one created by `up`.
K8S_TYPES = {
    "kubernetes:core/v1:Namespace": 1,
    "kubernetes:core/v1:ConfigMap": 1,
    "kubernetes:core/v1:Secret": 2,
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": 1,
    "kubernetes:batch/v1:Job": 1,
    "kubernetes:apps/v1:Deployment": 1,
    "kubernetes:core/v1:Service": 1,
    "kubernetes:policy/v1:PodDisruptionBudget": 1,
}
JOB_TYPE = "kubernetes:batch/v1:Job"
DEPLOYMENT_TYPE = "kubernetes:apps/v1:Deployment"

# Every field where the real provider's render differs from docs/manifests/prod.yaml (the mocks'
# render), and why. The test fails on a difference not listed here, and on a listed one that went
# away, so this table stays the true list.
AUTONAMED = (
    "the real engine marks objects whose name it generated (auto-naming) with this annotation; "
    "the mocks only append the suffix"
)
STRING_DATA = (
    "the real provider turns a Secret's stringData into base64 `data` before it applies or renders "
    "it; the mocks keep the program's stringData (values shown as [secret]). "
    "test_rendered_secrets_hold_the_configured_values checks the decoded values"
)
EXPECTED_DIFFERENCES: dict[str, str] = {
    "ConfigMap/runtime-env-<auto> metadata.annotations.pulumi.com/autonamed": AUTONAMED,
    "Secret/runtime-pull-secret-<auto> metadata.annotations.pulumi.com/autonamed": AUTONAMED,
    "Secret/runtime-secret-files-<auto> metadata.annotations.pulumi.com/autonamed": AUTONAMED,
    "Secret/runtime-pull-secret-<auto> stringData..dockerconfigjson": STRING_DATA,
    "Secret/runtime-pull-secret-<auto> data..dockerconfigjson": STRING_DATA,
    "Secret/runtime-secret-files-<auto> stringData.database_url": STRING_DATA,
    "Secret/runtime-secret-files-<auto> stringData.secret_key": STRING_DATA,
    "Secret/runtime-secret-files-<auto> data.database_url": STRING_DATA,
    "Secret/runtime-secret-files-<auto> data.secret_key": STRING_DATA,
}


def created(run_steps: list[dict[str, str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for step in run_steps:
        if step["op"] == "create" and step["type"].startswith("kubernetes:"):
            counts[step["type"]] = counts.get(step["type"], 0) + 1
    return counts


def test_preview_plans_every_object_of_the_prod_stack(rendered_prod: RenderedLifecycle) -> None:
    preview = rendered_prod.preview
    assert preview.error is None, preview.error
    assert created(preview.steps) == K8S_TYPES
    assert preview.summary.get("create", 0) >= sum(K8S_TYPES.values())


def test_up_creates_the_objects_and_exports_what_the_docs_say(rendered_prod: RenderedLifecycle) -> None:
    up = rendered_prod.up
    assert up.error is None, up.error
    assert created(up.steps) == K8S_TYPES
    assert up.outputs == {
        "deploymentName": "microservice-model",
        "migrationJobName": "microservice-model-migrate-" + IMAGE_REF.rsplit(":", 1)[1][:12],
        "url": "http://microservice-model.microservice-model.svc.cluster.local:8083",
        "imageDigest": IMAGE_REF,
        "target": "kubernetes",
        "runtimeEnv": "prod",
    }


def test_the_migration_job_is_created_before_the_deployment(rendered_prod: RenderedLifecycle) -> None:
    order = [step["type"] for step in rendered_prod.up.steps if step["op"] == "create"]
    assert order.index(JOB_TYPE) < order.index(DEPLOYMENT_TYPE)


def test_up_writes_one_manifest_per_object(rendered_prod: RenderedLifecycle) -> None:
    assert len(rendered_prod.rendered) == sum(K8S_TYPES.values()), sorted(rendered_prod.rendered)
    assert all(name.startswith("1-manifest/") for name in rendered_prod.rendered)


def test_rendered_manifests_pass_kubernetes_validate_strictly(rendered_dir: Path) -> None:
    tool = Path(sys.executable).parent / "kubernetes-validate"
    files = sorted(str(path) for path in rendered_dir.iterdir())
    result = subprocess.run(
        [str(tool), "--strict", "-k", KUBERNETES_VERSION, *files],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed for resource") == sum(K8S_TYPES.values()), result.stdout


def test_rendered_manifests_differ_from_the_documented_ones_only_where_explained(
    rendered_prod: RenderedLifecycle,
) -> None:
    found = differences(documents([DOCUMENTED.read_text()]), documents(rendered_prod.rendered.values()))
    unexplained = {field: values for field, values in found.items() if field not in EXPECTED_DIFFERENCES}
    gone = sorted(set(EXPECTED_DIFFERENCES) - set(found))
    assert unexplained == {}, "fields that differ (documented, real): " + "\n".join(
        f"{field}: {values!r}" for field, values in unexplained.items()
    )
    assert gone == [], "listed differences that no longer occur: update EXPECTED_DIFFERENCES"


def test_rendered_secrets_hold_the_configured_values(rendered_prod: RenderedLifecycle) -> None:
    # The values the operator set with `pulumi config set --secret`, in plaintext (base64) in the
    # rendered files: the provider warns about it, and render mode is for review, not for storage.
    secrets = {
        doc["metadata"]["name"].rsplit("-", 1)[0]: doc
        for doc in documents(rendered_prod.rendered.values())
        if doc["kind"] == "Secret"
    }
    files = {
        key: base64.b64decode(value).decode()
        for key, value in secrets["runtime-secret-files"]["data"].items()
    }
    assert files == {
        "database_url": PROD_SECRETS["microservice-model:databaseUrl"],
        "secret_key": PROD_SECRETS["microservice-model:secretKey"],
    }
    pull = json.loads(base64.b64decode(secrets["runtime-pull-secret"]["data"][".dockerconfigjson"]))
    auth = pull["auths"]["registry.example.com"]
    assert (auth["username"], auth["password"]) == (
        "deploy",
        PROD_SECRETS["microservice-model:registryPassword"],
    )
    warned = [
        d["message"] for d in rendered_prod.up.diagnostics if "secret value in plaintext" in d["message"]
    ]
    assert warned, "the provider no longer warns that rendered YAML holds secrets in plaintext"


def test_a_second_up_with_no_change_changes_nothing(rendered_prod: RenderedLifecycle) -> None:
    second = rendered_prod.second_up
    assert second.error is None, second.error
    changed = [step for step in second.steps if step["op"] != "same"]
    assert changed == []


def test_destroy_removes_every_object_and_its_manifest(rendered_prod: RenderedLifecycle) -> None:
    destroy = rendered_prod.destroy
    assert destroy.error is None, destroy.error
    deleted = {step["type"] for step in destroy.steps if step["op"] == "delete"}
    assert set(K8S_TYPES) <= deleted
    assert rendered_prod.left_after_destroy == []
