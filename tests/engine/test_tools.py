"""Rung 1: the Pulumi CLI and the Kubernetes provider built from Go modules by scripts/engine-tools.sh."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.support.engine import EngineTools

# Every Kubernetes kind the prod stack creates (docs/manifests/prod.yaml).
PROGRAM_KINDS = [
    "kubernetes:core/v1:Namespace",
    "kubernetes:core/v1:ConfigMap",
    "kubernetes:core/v1:Secret",
    "kubernetes:core/v1:Service",
    "kubernetes:batch/v1:Job",
    "kubernetes:apps/v1:Deployment",
    "kubernetes:policy/v1:PodDisruptionBudget",
]


def offline_env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PULUMI_HOME": str(home),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_DISABLE_REGISTRY_RESOLVE": "true",
    }


def test_cli_reports_the_release_it_was_built_from(tools: EngineTools, tmp_path: Path) -> None:
    # The Automation API refuses a CLI that reports no release (v3.0.0-dev without the version ldflag).
    result = subprocess.run(
        [str(tools.pulumi), "version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=offline_env(tmp_path),
    )
    assert result.stdout.strip() == tools.pulumi_version


def test_kubernetes_provider_serves_the_schema_generated_at_build_time(
    tools: EngineTools, tmp_path: Path
) -> None:
    # The engine starts the binary and asks for its schema: the embedded one, stamped with the version.
    result = subprocess.run(
        [str(tools.pulumi), "package", "get-schema", str(tools.kubernetes_provider)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=offline_env(tmp_path),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    schema = json.loads(result.stdout)
    assert schema["name"] == "kubernetes"
    assert schema["version"] == tools.kubernetes_provider_version
    missing = [kind for kind in PROGRAM_KINDS if kind not in schema["resources"]]
    assert missing == []
    assert "renderYamlToDirectory" in schema["provider"]["inputProperties"]
