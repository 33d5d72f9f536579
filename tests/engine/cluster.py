"""A real Kubernetes control plane on this machine for the engine tests (rung 3, docs/engine.md).

etcd, kube-apiserver, kube-controller-manager and kube-scheduler built from Go modules by
`scripts/engine-tools.sh --cluster`, started by kwokctl's binary runtime on 127.0.0.1, with kwok's fake
nodes: the controllers (Deployment, ReplicaSet, Job, EndpointSlice) are the real ones, and kwok's stages
stand in for the kubelet (pods become Ready, Job pods Succeed). One extra stage makes the migration pods
of one image fail, so a failed migration can be played for real.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.engine import tool_paths

CLUSTER_HINT = "run `bash scripts/engine-tools.sh --cluster` (builds kube-apiserver & co, etcd and kwok)"
# kwok's own default stages (node: initialise and heartbeat; pod: ready, complete, delete), read from
# its module in the Go module cache: with Stage objects enabled, kwokctl installs none of them itself.
DEFAULT_STAGES = [
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
]


def failing_migration_stage(image: str) -> dict[str, Any]:
    """A kwok stage: a Job's pod running `image` fails with exit code 1 (a migration that breaks).
    Its weight makes kwok pick it over pod-complete, which matches the same pods."""
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": "migration-fails"},
        "spec": {
            "resourceRef": {"apiGroup": "v1", "kind": "Pod"},
            "selector": {
                "matchExpressions": [
                    {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"},
                    {"key": ".status.phase", "operator": "In", "values": ["Running"]},
                    {"key": ".metadata.ownerReferences.[].kind", "operator": "In", "values": ["Job"]},
                    {"key": ".spec.containers.[].image", "operator": "In", "values": [image]},
                ]
            },
            "weight": 1,
            "next": {
                "statusTemplate": (
                    "{{ $now := Now }}\n"
                    "containerStatuses:\n"
                    "{{ range $index, $item := .spec.containers }}\n"
                    "- image: {{ $item.image | Quote }}\n"
                    "  name: {{ $item.name | Quote }}\n"
                    "  ready: false\n"
                    "  restartCount: 0\n"
                    "  started: false\n"
                    "  state:\n"
                    "    terminated:\n"
                    "      exitCode: 1\n"
                    "      finishedAt: {{ $now | Quote }}\n"
                    "      reason: Error\n"
                    "      startedAt: {{ $now | Quote }}\n"
                    "{{ end }}\n"
                    "phase: Failed\n"
                )
            },
        },
    }


class KwokCluster:
    """One throw-away cluster (its own kwok workdir, name and kubeconfig); `delete()` stops it."""

    def __init__(self, failing_image: str, nodes: int = 2) -> None:
        paths = tool_paths()
        bin_dir, kwok_dir = Path(paths["KUBERNETES_BIN"]), Path(paths["KWOK_BIN"])
        self.kubectl_binary = bin_dir / "kubectl"
        self.kwokctl = kwok_dir / "kwokctl"
        binaries = {
            "kubeApiserverBinary": bin_dir / "kube-apiserver",
            "kubeControllerManagerBinary": bin_dir / "kube-controller-manager",
            "kubeSchedulerBinary": bin_dir / "kube-scheduler",
            "kubectlBinary": self.kubectl_binary,
            "kwokControllerBinary": kwok_dir / "kwok",
            "etcdBinary": Path(paths["ETCD"]),
        }
        missing = [str(path) for path in [*binaries.values(), self.kwokctl] if not path.is_file()]
        if missing:
            pytest.fail(f"missing {', '.join(missing)}: {CLUSTER_HINT}")
        stages_dir = Path(paths["KWOK_STAGES"])
        self.root = Path(tempfile.mkdtemp(prefix="kwok-"))
        self.name = f"engine-{uuid.uuid4().hex[:8]}"
        self.kubeconfig = self.root / "kubeconfig"
        self.context = f"kwok-{self.name}"
        configuration = {
            "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
            "kind": "KwokctlConfiguration",
            "options": {
                "runtime": "binary",
                "bindAddress": "127.0.0.1",
                # Stages as objects in the API server (applied below), so a test can remove one: the
                # failing migration's cause, "fixed" while the cluster runs.
                "enableCRDs": ["Stage"],
                **{key: str(path) for key, path in binaries.items()},
            },
        }
        stages = [yaml.safe_load((stages_dir / name).read_text()) for name in DEFAULT_STAGES]
        config = self.root / "kwok.yaml"
        config.write_text(yaml.safe_dump(configuration, sort_keys=False))
        stages_file = self.root / "stages.yaml"
        stages_file.write_text(yaml.safe_dump_all([*stages, failing_migration_stage(failing_image)]))
        self.env = {**os.environ, "KWOK_WORKDIR": str(self.root / "workdir")}
        start = time.monotonic()
        try:
            self._kwokctl(
                "create",
                "cluster",
                "--config",
                str(config),
                "--kubeconfig",
                str(self.kubeconfig),
                "--wait",
                "5m",
            )
            self.kubectl("apply", "-f", str(stages_file))
            self._kwokctl("scale", "node", "--replicas", str(nodes))
            self.kubectl("wait", "--for=condition=Ready", "nodes", "--all", "--timeout=120s")
        except BaseException:
            self.delete()  # stop whatever part of the control plane did start
            raise
        self.start_seconds = round(time.monotonic() - start, 1)

    def _kwokctl(self, *args: str) -> str:
        result = subprocess.run(
            [str(self.kwokctl), "--name", self.name, *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
            env=self.env,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"kwokctl {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
            )
        return result.stdout

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                str(self.kubectl_binary),
                "--kubeconfig",
                str(self.kubeconfig),
                "--context",
                self.context,
                *args,
            ],
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    def get(self, *args: str) -> dict[str, Any]:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def fix_migration(self) -> None:
        """Remove the cause of the failing migration: that image's Job pods now complete."""
        self.kubectl("delete", "stages.kwok.x-k8s.io", "migration-fails")

    def delete(self) -> None:
        try:
            self._kwokctl("delete", "cluster")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
