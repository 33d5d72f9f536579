"""Rung 3: `pulumi up -s prod` for real, through the real engine and provider, against a real API server.

kube-apiserver, kube-controller-manager, kube-scheduler and etcd run on 127.0.0.1 (tests/engine/cluster.py);
kwok's fake nodes make pods Ready and Job pods complete. One lifecycle, shared by the tests: a first
`up`, a second with another digest (a new Job, a rolling update), a third with no change, one whose
migration fails, the same image again once the cause is fixed (the Job is re-run), and `destroy`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.engine.cluster import KwokCluster
from tests.engine.conftest import PROD_SECRETS
from tests.support.engine import EngineProject, EngineRun, EngineTools

REPOSITORY = "registry.example.com/microservice-model/service"
NAMESPACE = "microservice-model"
DEPLOYMENT = "microservice-model"
REPLICAS = 3  # Pulumi.prod.yaml


def image(label: str) -> str:
    return f"{REPOSITORY}@sha256:{hashlib.sha256(label.encode()).hexdigest()}"


FIRST, SECOND, BROKEN = image("first"), image("second"), image("broken")


# The optional Ingress, on for this lifecycle: the API server must accept it as the program renders it.
INGRESS = {
    "microservice-model:ingress": "true",
    "microservice-model:ingressHost": "microservice.model.com",
    "microservice-model:ingressTlsSecret": "model-tls",
}
SERVICE_ACCOUNT_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


def job_name(ref: str) -> str:
    return f"microservice-model-migrate-{ref.rsplit(':', 1)[1][:12]}"


@dataclass
class Observed:
    """The cluster's state right after one operation, read with kubectl."""

    jobs: dict[str, dict[str, Any]]
    deployment: dict[str, Any] | None
    replica_sets: list[dict[str, Any]]
    ready_endpoints: int


@dataclass
class ClusterLifecycle:
    runs: dict[str, EngineRun] = field(default_factory=dict)
    observed: dict[str, Observed] = field(default_factory=dict)
    # After the first `up` (with the Ingress on): the objects as the API server stored them.
    network_policies: list[dict[str, Any]] = field(default_factory=list)
    ingresses: list[dict[str, Any]] = field(default_factory=list)
    pods: list[dict[str, Any]] = field(default_factory=list)
    namespace_gone_after_destroy: bool = False
    left_after_destroy: str = ""
    cluster_start_seconds: float = 0.0


def observe(cluster: KwokCluster) -> Observed:
    jobs = {
        job["metadata"]["name"]: {
            "image": job["spec"]["template"]["spec"]["containers"][0]["image"],
            "succeeded": job["status"].get("succeeded", 0),
            "failed": job["status"].get("failed", 0),
            "completionTime": job["status"].get("completionTime"),
        }
        for job in cluster.get("jobs", "-n", NAMESPACE)["items"]
    }
    found = cluster.kubectl("get", "deployment", DEPLOYMENT, "-n", NAMESPACE, "-o", "json", check=False)
    deployment = None
    if found.returncode == 0:
        raw = json.loads(found.stdout)
        deployment = {
            "image": raw["spec"]["template"]["spec"]["containers"][0]["image"],
            "created": raw["metadata"]["creationTimestamp"],
            "available": raw["status"].get("availableReplicas", 0),
            "updated": raw["status"].get("updatedReplicas", 0),
        }
    replica_sets = [
        {
            "image": rs["spec"]["template"]["spec"]["containers"][0]["image"],
            "replicas": rs["status"].get("replicas", 0),
            "ready": rs["status"].get("readyReplicas", 0),
        }
        for rs in cluster.get("replicasets", "-n", NAMESPACE)["items"]
    ]
    slices = cluster.get("endpointslices", "-n", NAMESPACE, "-l", f"kubernetes.io/service-name={DEPLOYMENT}")
    ready = sum(
        1
        for item in slices["items"]
        for endpoint in item.get("endpoints") or []
        if endpoint.get("conditions", {}).get("ready")
    )
    return Observed(jobs, deployment, replica_sets, ready)


@pytest.fixture(scope="module")
def lifecycle(tools: EngineTools) -> Iterator[ClusterLifecycle]:
    project = EngineProject(tools, "prod")
    try:
        cluster = KwokCluster(failing_image=BROKEN)  # stops what it started if it cannot start
    except BaseException:
        project.cleanup()
        raise
    result = ClusterLifecycle(cluster_start_seconds=cluster.start_seconds)
    access = {
        "microservice-model:kubeconfig": str(cluster.kubeconfig),
        "microservice-model:kubeContext": cluster.context,
    }
    plan = [
        ("first", {**access, **INGRESS, "microservice-model:imageRef": FIRST}),
        ("second", {"microservice-model:imageRef": SECOND}),
        ("unchanged", {}),
        ("broken", {"microservice-model:imageRef": BROKEN}),
        ("fixed", {}),  # the same image, after the cause was fixed outside Pulumi
    ]
    try:
        for label, config in plan:
            if label == "fixed":
                cluster.fix_migration()
            secrets = PROD_SECRETS if label == "first" else None
            result.runs[label] = project.run("up", config=config, secrets=secrets, render=False, timeout=900)
            result.observed[label] = observe(cluster)
            if label == "first":
                result.network_policies = cluster.get("networkpolicies", "-n", NAMESPACE)["items"]
                result.ingresses = cluster.get("ingresses", "-n", NAMESPACE)["items"]
                result.pods = cluster.get("pods", "-n", NAMESPACE)["items"]
        result.runs["destroy"] = project.run("destroy", render=False, timeout=900)
        deadline = time.monotonic() + 120  # the namespace controller empties, then removes, the namespace
        while time.monotonic() < deadline:
            if cluster.kubectl("get", "namespace", NAMESPACE, check=False).returncode != 0:
                result.namespace_gone_after_destroy = True
                break
            time.sleep(2)
        result.left_after_destroy = cluster.kubectl(
            "get",
            "all,configmaps,secrets,pdb,networkpolicies,ingresses",
            "-A",
            "-l",
            "app.kubernetes.io/name=microservice-model",
            "-o",
            "name",
            check=False,
        ).stdout.strip()
        yield result
    finally:
        try:
            project.cleanup()
        finally:
            cluster.delete()


def test_first_up_migrates_then_rolls_out_and_serves(lifecycle: ClusterLifecycle) -> None:
    run, seen = lifecycle.runs["first"], lifecycle.observed["first"]
    assert run.error is None, run.error
    job = seen.jobs[job_name(FIRST)]
    assert job["succeeded"] == 1
    assert job["image"] == FIRST
    assert seen.deployment is not None
    assert seen.deployment["image"] == FIRST
    assert seen.deployment["available"] == REPLICAS
    # The Job had completed before the Deployment object existed: the engine waited for it.
    assert job["completionTime"] <= seen.deployment["created"]
    assert seen.ready_endpoints == REPLICAS
    assert run.outputs["deploymentName"] == DEPLOYMENT
    assert run.outputs["migrationJobName"] == job_name(FIRST)
    assert run.outputs["imageDigest"] == FIRST
    assert run.outputs["url"] == f"http://{DEPLOYMENT}.{NAMESPACE}.svc.cluster.local:8083"


def test_the_api_server_accepts_the_network_policy_and_the_ingress(lifecycle: ClusterLifecycle) -> None:
    assert lifecycle.runs["first"].error is None, lifecycle.runs["first"].error
    [policy] = lifecycle.network_policies
    assert policy["metadata"]["name"] == DEPLOYMENT
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert [rule["ports"] for rule in policy["spec"]["ingress"]] == [
        [{"port": 8000, "protocol": "TCP"}],
        [{"port": 9464, "protocol": "TCP"}],
    ]
    [ingress] = lifecycle.ingresses
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["microservice.model.com"], "secretName": "model-tls"}]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": DEPLOYMENT, "port": {"number": 8083}}


def test_pods_get_no_service_account_token_and_their_secrets_as_read_only_files(
    lifecycle: ClusterLifecycle,
) -> None:
    # The ServiceAccount admission plugin adds a projected token volume to every pod that does not opt
    # out; these pods (API and migration) opt out, so the stored pods carry none.
    pods = lifecycle.pods
    components = {pod["metadata"]["labels"]["app.kubernetes.io/component"] for pod in pods}
    assert components == {"api", "migration"}
    for pod in pods:
        spec = pod["spec"]
        assert spec["automountServiceAccountToken"] is False
        assert not [v for v in spec["volumes"] if "projected" in v], pod["metadata"]["name"]
        [container] = spec["containers"]
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert SERVICE_ACCOUNT_TOKEN_PATH not in mounts
        assert mounts["/run/secrets"]["readOnly"] is True
        assert not [e for e in container.get("env", []) if "valueFrom" in e]
        assert [list(source) for source in container["envFrom"]] == [["configMapRef"]]
        [secret_volume] = [v for v in spec["volumes"] if v["name"] == mounts["/run/secrets"]["name"]]
        assert secret_volume["secret"]["defaultMode"] == 0o440
    api = next(pod for pod in pods if pod["metadata"]["labels"]["app.kubernetes.io/component"] == "api")
    assert api["spec"]["containers"][0]["lifecycle"]["preStop"] == {"sleep": {"seconds": 5}}
    assert api["spec"]["terminationGracePeriodSeconds"] == 5 + 30 + 15


def test_second_digest_runs_a_new_job_and_a_rolling_update(lifecycle: ClusterLifecycle) -> None:
    run, seen = lifecycle.runs["second"], lifecycle.observed["second"]
    assert run.error is None, run.error
    assert seen.jobs[job_name(SECOND)]["succeeded"] == 1
    assert job_name(FIRST) not in seen.jobs  # the Job of the earlier image was replaced
    assert seen.deployment is not None
    assert (seen.deployment["image"], seen.deployment["available"]) == (SECOND, REPLICAS)
    by_image = {rs["image"]: rs for rs in seen.replica_sets}
    assert by_image[SECOND]["ready"] == REPLICAS
    assert by_image[FIRST]["replicas"] == 0  # scaled down, kept for rollback (revisionHistoryLimit)
    ops = {step["type"]: step["op"] for step in run.steps if step["type"].startswith("kubernetes:")}
    assert ops["kubernetes:apps/v1:Deployment"] == "update"


def test_third_up_without_change_changes_nothing(lifecycle: ClusterLifecycle) -> None:
    run = lifecycle.runs["unchanged"]
    assert run.error is None, run.error
    assert [step for step in run.steps if step["op"] != "same"] == []


def test_failed_migration_fails_the_up_and_the_old_version_keeps_serving(lifecycle: ClusterLifecycle) -> None:
    run, seen = lifecycle.runs["broken"], lifecycle.observed["broken"]
    assert run.error is not None
    assert seen.jobs[job_name(BROKEN)]["failed"] >= 1
    # The last good migration's Job is still there (the new Job is created before it goes): its logs are
    # what `pulumi stack output migrationJobName` names, which a failed `up` leaves as it was.
    assert seen.jobs[job_name(SECOND)]["succeeded"] == 1
    assert seen.deployment is not None
    assert (seen.deployment["image"], seen.deployment["available"]) == (SECOND, REPLICAS)
    assert seen.ready_endpoints == REPLICAS
    assert not [s for s in run.steps if s["type"] == "kubernetes:apps/v1:Deployment" and s["op"] != "same"]


def test_the_next_up_after_the_fix_reruns_the_migration_and_rolls_out(lifecycle: ClusterLifecycle) -> None:
    # Same image, so the same Job name: only `pulumi.com/replaceUnready` makes the provider replace the
    # failed Job (components/kubernetes/migration.py) instead of awaiting it again.
    run, seen = lifecycle.runs["fixed"], lifecycle.observed["fixed"]
    assert run.error is None, run.error
    job = seen.jobs[job_name(BROKEN)]
    assert (job["succeeded"], job["failed"]) == (1, 0)  # a new Job, not the failed one
    assert seen.deployment is not None
    assert (seen.deployment["image"], seen.deployment["available"]) == (BROKEN, REPLICAS)
    assert seen.ready_endpoints == REPLICAS


def test_destroy_leaves_nothing_behind(lifecycle: ClusterLifecycle) -> None:
    run = lifecycle.runs["destroy"]
    assert run.error is None, run.error
    assert lifecycle.namespace_gone_after_destroy
    assert lifecycle.left_after_destroy == ""
