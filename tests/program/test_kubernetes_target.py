"""The `prod` stack (kubernetes target): deploy facts, ordering, secrets, strict 1.34 schema validation."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from components.contract import (
    APP_UID,
    LIVENESS_PATH,
    LOG_MOUNT,
    METRICS_PATH,
    METRICS_PORT,
    MIGRATION_COMMAND,
    PUBLIC_PORT,
    READINESS_PATH,
    SECRETS_DIR,
    SERVICE_PORT,
)
from tests.support.pulumi_mocks import ProgramRun, Registration, is_secret, plain, run_program
from tests.support.rendering import (
    INGRESS_EXAMPLE,
    INGRESS_MANIFESTS,
    MANIFESTS,
    kubernetes_objects,
    render_manifests,
)
from tests.support.resource_types import (
    COMMAND,
    CONFIG_MAP,
    CONTAINER,
    DEPLOYMENT,
    DOCKER_PROVIDER,
    IMAGE,
    INGRESS,
    JOB,
    KUBERNETES_PROVIDER,
    NAMESPACE,
    NETWORK_POLICY,
    POD_DISRUPTION_BUDGET,
    SERVICE,
)
from tests.support.stack_config import TEST_SECRET_KEY
from tests.support.workloads import main_container

KUBERNETES_VERSION = "1.34.0"
POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"


def image_ref(run: ProgramRun) -> str:
    return plain(run.one(IMAGE).outputs["repoDigest"])


def pod_spec(resource: Registration) -> dict[str, Any]:
    return resource.input("spec")["template"]["spec"]


def output_name(run: ProgramRun, name: str) -> str:
    return plain(run.named(name).outputs["metadata"])["name"]


def test_image_is_pushed_to_the_registry_with_credentials(prod_stack: ProgramRun) -> None:
    image = prod_stack.one(IMAGE)
    assert image.input("imageName") == "registry.example.com/microservice-model/service:prod"
    assert image.input("skipPush") is False
    registry = image.inputs["registry"]
    assert is_secret(registry)  # it carries the password
    assert plain(registry) == {
        "server": "registry.example.com",
        "username": "deploy",
        "password": "registry-token-456",
    }


def test_deployment_and_job_run_the_pushed_image_by_digest(prod_stack: ProgramRun) -> None:
    ref = image_ref(prod_stack)
    assert ref.startswith("registry.example.com/microservice-model/service@sha256:")
    assert main_container(prod_stack.one(DEPLOYMENT))["image"] == ref
    assert main_container(prod_stack.one(JOB))["image"] == ref


def test_migration_job_runs_flask_db_upgrade_once_per_image(prod_stack: ProgramRun) -> None:
    job = prod_stack.one(JOB)
    digest = image_ref(prod_stack).rsplit("sha256:", 1)[1]
    assert output_name(prod_stack, "migration-job") == f"microservice-model-migrate-{digest[:12]}"
    assert main_container(job)["command"] == list(MIGRATION_COMMAND)
    assert pod_spec(job)["restartPolicy"] == "Never"
    # A new image's Job is created before the last good one goes (the provider deletes first only
    # when the name stays the same): a failed migration keeps the good Job and its logs.
    assert job.delete_before_replace is False


def test_a_failed_migration_job_is_replaced_by_the_next_update_and_awaited_past_its_deadline(
    prod_stack: ProgramRun,
) -> None:
    job = prod_stack.one(JOB)
    # Without it the provider keeps a failed Job as "failed to initialise" and the next `pulumi up` with
    # the same image only awaits that same failed Job again: the migration would never re-run.
    assert job.input("metadata")["annotations"] == {"pulumi.com/replaceUnready": "true"}
    deadline = job.input("spec")["activeDeadlineSeconds"]
    for kind in ("create", "update"):
        timeout = job.custom_timeouts[kind]
        assert timeout.endswith("m"), timeout
        # The provider's default Job await is 10 min: it must outlast the Job's own deadline.
        assert int(timeout[:-1]) * 60 > deadline, (kind, timeout, deadline)


def test_a_new_image_gets_a_new_migration_job() -> None:
    rebuilt = run_program("prod", overrides={"baseImage": "python:3.12.99-slim"})
    original = run_program("prod")
    assert image_ref(rebuilt) != image_ref(original)
    assert output_name(rebuilt, "migration-job") != output_name(original, "migration-job")


def test_deployment_waits_for_the_migration_job_which_waits_for_the_image(prod_stack: ProgramRun) -> None:
    assert prod_stack.one(JOB).urn in prod_stack.one(DEPLOYMENT).dependencies
    assert prod_stack.one(IMAGE).urn in prod_stack.one(JOB).dependencies


def test_deployment_rolls_without_dropping_below_the_desired_replicas(prod_stack: ProgramRun) -> None:
    spec = prod_stack.one(DEPLOYMENT).input("spec")
    assert spec["replicas"] == 3
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }


def test_deployment_probes_readiness_on_readyz_and_liveness_on_healthz(prod_stack: ProgramRun) -> None:
    container = main_container(prod_stack.one(DEPLOYMENT))
    assert container["readinessProbe"]["httpGet"] == {"path": READINESS_PATH, "port": SERVICE_PORT}
    assert container["livenessProbe"]["httpGet"] == {"path": LIVENESS_PATH, "port": SERVICE_PORT}
    assert container["ports"] == [
        {"name": "http", "containerPort": SERVICE_PORT},
        {"name": "metrics", "containerPort": METRICS_PORT},
    ]


def test_deployment_sets_resources_and_runs_as_the_non_root_image_user(prod_stack: ProgramRun) -> None:
    deployment = prod_stack.one(DEPLOYMENT)
    container = main_container(deployment)
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }
    assert container["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["runAsUser"] == APP_UID
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod_spec(deployment)["securityContext"]["runAsUser"] == APP_UID


def test_termination_grace_is_longer_than_gunicorns_graceful_timeout(prod_stack: ProgramRun) -> None:
    config_map = prod_stack.one(CONFIG_MAP)
    graceful = int(config_map.input("data")["GUNICORN_GRACEFUL_TIMEOUT"])
    assert pod_spec(prod_stack.one(DEPLOYMENT))["terminationGracePeriodSeconds"] > graceful


def test_logs_go_to_a_per_pod_volume_at_app_logs(prod_stack: ProgramRun) -> None:
    deployment = prod_stack.one(DEPLOYMENT)
    mounts = {m["mountPath"]: m["name"] for m in main_container(deployment)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    assert volumes[mounts[LOG_MOUNT]]["emptyDir"] == {"sizeLimit": "256Mi"}


def test_secrets_are_mounted_as_read_only_files_never_env(prod_stack: ProgramRun) -> None:
    config_map = prod_stack.one(CONFIG_MAP)
    data = config_map.input("data")
    assert data["RUNTIME_ENV"] == "prod"
    # The service reads VAR_FILE (app/service/config.py); the values are in no env and no ConfigMap.
    assert data["DATABASE_URL_FILE"] == f"{SECRETS_DIR}/database_url"
    assert data["SECRET_KEY_FILE"] == f"{SECRETS_DIR}/secret_key"
    assert not {"DATABASE_URL", "SECRET_KEY"} & set(data)
    secret = prod_stack.named("runtime-secret-files")
    assert is_secret(secret.inputs["stringData"])
    assert plain(secret.inputs["stringData"]) == {
        "database_url": "postgresql+psycopg://model:db-password-123@db.internal:5432/model",
        "secret_key": TEST_SECRET_KEY,
    }
    for workload in (prod_stack.one(DEPLOYMENT), prod_stack.one(JOB)):
        container = main_container(workload)
        assert container["envFrom"] == [{"configMapRef": {"name": output_name(prod_stack, "runtime-env")}}]
        assert all("valueFrom" not in env for env in container.get("env", []))
        [mount] = [m for m in container["volumeMounts"] if m["mountPath"] == SECRETS_DIR]
        assert mount["readOnly"] is True
        [volume] = [v for v in pod_spec(workload)["volumes"] if v["name"] == mount["name"]]
        # Owner and group read only; the kubelet makes the files root:<fsGroup>, the image's group.
        assert volume["secret"] == {
            "secretName": output_name(prod_stack, "runtime-secret-files"),
            "defaultMode": 0o440,
        }
        assert pod_spec(workload)["securityContext"]["fsGroup"] == APP_UID


def test_the_secret_files_follow_the_list_of_secrets() -> None:
    """One file and one VAR_FILE per secret in the Secret, whatever the list of secrets holds."""
    run = run_program("prod")
    names = set(plain(run.named("runtime-secret-files").inputs["stringData"]))
    files = {k: v for k, v in run.one(CONFIG_MAP).input("data").items() if k.endswith("_FILE")}
    assert files == {f"{name.upper()}_FILE": f"{SECRETS_DIR}/{name}" for name in names}


def test_pods_mount_no_service_account_token(prod_stack: ProgramRun) -> None:
    # The app never calls the Kubernetes API: a token in the pod would only help an attacker.
    for workload in (prod_stack.one(DEPLOYMENT), prod_stack.one(JOB)):
        assert pod_spec(workload)["automountServiceAccountToken"] is False


def test_a_pod_pauses_in_pre_stop_inside_its_termination_grace(prod_stack: ProgramRun) -> None:
    spec = pod_spec(prod_stack.one(DEPLOYMENT))
    pause = main_container(prod_stack.one(DEPLOYMENT))["lifecycle"]["preStop"]
    assert pause == {"sleep": {"seconds": 5}}  # the kubelet's sleep action: no binary in the image
    graceful = int(prod_stack.one(CONFIG_MAP).input("data")["GUNICORN_GRACEFUL_TIMEOUT"])
    # The grace counts from the hook's start: the pause, then gunicorn's whole drain, must fit.
    assert spec["terminationGracePeriodSeconds"] == 5 + graceful + 15
    assert "lifecycle" not in main_container(prod_stack.one(JOB))


def test_a_zero_pre_stop_pause_leaves_the_hook_out() -> None:
    run = run_program("prod", overrides={"preStopSeconds": 0, "gracefulTimeout": 20})
    assert "lifecycle" not in main_container(run.one(DEPLOYMENT))
    assert pod_spec(run.one(DEPLOYMENT))["terminationGracePeriodSeconds"] == 35


def test_network_policy_admits_clients_on_8000_and_scrapers_on_metrics_only(prod_stack: ProgramRun) -> None:
    policy = prod_stack.one(NETWORK_POLICY)
    spec = policy.input("spec")
    pod_labels = prod_stack.one(DEPLOYMENT).input("spec")["template"]["metadata"]["labels"]
    job_labels = prod_stack.one(JOB).input("spec")["template"]["metadata"]["labels"]
    selector = spec["podSelector"]["matchLabels"]
    # Every pod of the app: the API pods and the migration Job's.
    assert selector.items() <= pod_labels.items()
    assert selector.items() <= job_labels.items()
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    by_name = "kubernetes.io/metadata.name"
    assert spec["ingress"] == [
        {
            "from": [
                {"podSelector": {}},
                {"namespaceSelector": {"matchLabels": {by_name: "ingress-nginx"}}},
            ],
            "ports": [{"port": SERVICE_PORT, "protocol": "TCP"}],
        },
        {
            "from": [{"namespaceSelector": {"matchLabels": {by_name: "monitoring"}}}],
            "ports": [{"port": METRICS_PORT, "protocol": "TCP"}],
        },
    ]
    assert spec["egress"] == [
        {
            "to": [{"namespaceSelector": {"matchLabels": {by_name: "kube-system"}}}],
            "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
        },
        # db.internal is a name, which a policy cannot match: its port, any address.
        {"ports": [{"port": 5432, "protocol": "TCP"}]},
    ]


def test_network_policy_sources_and_database_range_are_settings() -> None:
    run = run_program(
        "prod",
        overrides={
            "clientNamespaces": "frontend, batch",
            "clientCidrs": "203.0.113.0/24",
            "ingressControllerNamespace": "",
            "metricsNamespaces": "",
            "databaseCidrs": "10.20.0.0/16",
        },
    )
    spec = run.one(NETWORK_POLICY).input("spec")
    by_name = "kubernetes.io/metadata.name"
    assert spec["ingress"] == [
        {
            "from": [
                {"podSelector": {}},
                {"namespaceSelector": {"matchLabels": {by_name: "frontend"}}},
                {"namespaceSelector": {"matchLabels": {by_name: "batch"}}},
                {"ipBlock": {"cidr": "203.0.113.0/24"}},
            ],
            "ports": [{"port": SERVICE_PORT, "protocol": "TCP"}],
        }
    ]
    assert spec["egress"][1] == {
        "to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
        "ports": [{"port": 5432, "protocol": "TCP"}],
    }


def test_network_policy_can_be_turned_off() -> None:
    assert run_program("prod", overrides={"networkPolicy": False}).of_type(NETWORK_POLICY) == []


def test_ingress_is_off_by_default_and_routes_its_host_to_the_service(prod_stack: ProgramRun) -> None:
    assert prod_stack.of_type(INGRESS) == []
    run = run_program(
        "prod",
        overrides={"ingress": True, "ingressHost": "microservice.model.com", "ingressTlsSecret": "model-tls"},
    )
    ingress = run.one(INGRESS)
    service = plain(run.one(SERVICE).outputs["metadata"])["name"]
    assert ingress.input("spec") == {
        "ingressClassName": "nginx",
        "tls": [{"hosts": ["microservice.model.com"], "secretName": "model-tls"}],
        "rules": [
            {
                "host": "microservice.model.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": service, "port": {"number": PUBLIC_PORT}}},
                        }
                    ]
                },
            }
        ],
    }
    assert run.one(SERVICE).urn in ingress.dependencies


def test_pods_pull_with_a_registry_secret(prod_stack: ProgramRun) -> None:
    pull = prod_stack.named("runtime-pull-secret")
    assert pull.input("type") == "kubernetes.io/dockerconfigjson"
    assert is_secret(pull.inputs["stringData"])
    config = json.loads(pull.input("stringData")[".dockerconfigjson"])
    auth = config["auths"]["registry.example.com"]
    assert base64.b64decode(auth["auth"]).decode() == "deploy:registry-token-456"
    name = output_name(prod_stack, "runtime-pull-secret")
    assert pod_spec(prod_stack.one(DEPLOYMENT))["imagePullSecrets"] == [{"name": name}]
    assert pod_spec(prod_stack.one(JOB))["imagePullSecrets"] == [{"name": name}]


def test_service_maps_port_8083_to_target_port_8000(prod_stack: ProgramRun) -> None:
    spec = prod_stack.one(SERVICE).input("spec")
    assert spec["type"] == "ClusterIP"
    assert spec["ports"] == [
        {"name": "http", "port": PUBLIC_PORT, "targetPort": SERVICE_PORT, "protocol": "TCP"}
    ]
    pod_labels = prod_stack.one(DEPLOYMENT).input("spec")["template"]["metadata"]["labels"]
    assert spec["selector"] == pod_labels


def test_pods_are_scraped_on_their_metrics_port_which_the_service_does_not_expose(
    prod_stack: ProgramRun,
) -> None:
    template = prod_stack.one(DEPLOYMENT).input("spec")["template"]
    assert template["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(METRICS_PORT),
        "prometheus.io/path": METRICS_PATH,
    }
    service_ports = prod_stack.one(SERVICE).input("spec")["ports"]
    assert METRICS_PORT not in {port["targetPort"] for port in service_ports}
    container = main_container(prod_stack.one(DEPLOYMENT))
    assert container["env"] == [{"name": "IMAGE_REF", "value": container["image"]}]


def test_a_pod_monitor_scrapes_the_metrics_port_when_the_stack_asks_for_one(prod_stack: ProgramRun) -> None:
    assert prod_stack.of_type(POD_MONITOR) == []  # default: none
    stack = run_program("prod", overrides={"metricsMonitor": "PodMonitor"})
    monitor = stack.one(POD_MONITOR)
    pod_labels = stack.one(DEPLOYMENT).input("spec")["template"]["metadata"]["labels"]
    assert monitor.input("spec") == {
        "selector": {"matchLabels": pod_labels},
        "podMetricsEndpoints": [{"port": "metrics", "path": METRICS_PATH}],
    }


def test_pod_disruption_budget_keeps_all_but_one_pod(prod_stack: ProgramRun) -> None:
    pdb = prod_stack.one(POD_DISRUPTION_BUDGET)
    pod_labels = prod_stack.one(DEPLOYMENT).input("spec")["template"]["metadata"]["labels"]
    assert pdb.input("spec") == {"maxUnavailable": 1, "selector": {"matchLabels": pod_labels}}


def test_everything_lives_in_the_configured_namespace(prod_stack: ProgramRun) -> None:
    namespace = prod_stack.one(NAMESPACE)
    assert namespace.input("metadata")["name"] == "microservice-model"
    for obj in kubernetes_objects(prod_stack):
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "microservice-model", obj["kind"]


def test_kubernetes_resources_use_the_explicit_provider(prod_stack: ProgramRun) -> None:
    provider = prod_stack.one(KUBERNETES_PROVIDER)
    assert provider.input("namespace") == "microservice-model"
    for resource in prod_stack.resources:
        if resource.type.startswith("kubernetes:") and resource.custom and resource is not provider:
            assert resource.provider_urn == provider.urn, resource.name
    assert prod_stack.one(IMAGE).provider_urn == prod_stack.one(DOCKER_PROVIDER).urn


def test_service_and_disruption_budget_wait_for_the_deployment(prod_stack: ProgramRun) -> None:
    # The Service await waits up to 10 min for ready endpoints: after the rollout, not alongside it.
    deployment = prod_stack.one(DEPLOYMENT).urn
    assert deployment in prod_stack.one(SERVICE).dependencies
    assert deployment in prod_stack.one(POD_DISRUPTION_BUDGET).dependencies


def test_provider_forces_server_side_apply_over_out_of_band_edits(prod_stack: ProgramRun) -> None:
    # docs/operations.md: the declared fields win over `kubectl scale`/`kubectl edit` instead of the
    # next update failing on a field-manager conflict.
    # Provider inputs reach the engine JSON-encoded, as strings.
    assert prod_stack.one(KUBERNETES_PROVIDER).input("enablePatchForce") == "true"
    # ...and, for providers older than the option, the annotation on the objects people edit by hand.
    for kind in (DEPLOYMENT, SERVICE, POD_DISRUPTION_BUDGET):
        assert prod_stack.one(kind).input("metadata")["annotations"] == {"pulumi.com/patchForce": "true"}


def test_the_image_is_built_for_the_declared_platform_with_buildkit(prod_stack: ProgramRun) -> None:
    build = prod_stack.one(IMAGE).input("build")
    assert build["platform"] == "linux/amd64"  # Pulumi.prod.yaml: the nodes', not the deploying machine's
    assert build["builderVersion"] == "BuilderBuildKit"


def test_kubeconfig_and_context_reach_the_provider() -> None:
    run = run_program("prod", overrides={"kubeconfig": "/etc/deploy/kubeconfig", "kubeContext": "prod-eu"})
    provider = run.one(KUBERNETES_PROVIDER)
    assert provider.input("kubeconfig") == "/etc/deploy/kubeconfig"
    assert provider.input("context") == "prod-eu"


def test_no_docker_container_on_the_kubernetes_target(prod_stack: ProgramRun) -> None:
    assert not prod_stack.of_type(CONTAINER)
    assert not prod_stack.of_type(COMMAND)


def test_exports_url_image_digest_deployment_and_job_names(prod_stack: ProgramRun) -> None:
    assert prod_stack.export("deploymentName") == "microservice-model"
    assert prod_stack.export("migrationJobName") == output_name(prod_stack, "migration-job")
    assert prod_stack.export("imageDigest") == image_ref(prod_stack)
    url = f"http://microservice-model.microservice-model.svc.cluster.local:{PUBLIC_PORT}"
    assert prod_stack.export("url") == url
    assert prod_stack.export("runtimeEnv") == "prod"


def test_no_secret_value_appears_in_the_rendered_manifests(prod_stack: ProgramRun) -> None:
    rendered = render_manifests(prod_stack)
    for secret in ("db-password-123", TEST_SECRET_KEY, "registry-token-456"):
        assert secret not in rendered


@pytest.fixture(scope="module")
def prod_objects(prod_stack: ProgramRun) -> list[dict[str, Any]]:
    return kubernetes_objects(prod_stack)


def test_prod_declares_the_expected_kubernetes_objects(prod_objects: list[dict[str, Any]]) -> None:
    kinds = [obj["kind"] for obj in prod_objects]
    assert kinds == [
        "Namespace",
        "ConfigMap",
        "Secret",
        "Secret",
        "NetworkPolicy",
        "Job",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
    ]


def test_every_prod_object_validates_strictly_against_kubernetes_1_34(
    prod_objects: list[dict[str, Any]],
) -> None:
    for obj in prod_objects:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(
                f"{obj['kind']}/{obj['metadata']['name']} is invalid at {list(error.path)}: {error.message}"
            )


def test_the_documented_ingress_is_current_and_validates_strictly_against_kubernetes_1_34() -> None:
    run = run_program("prod", overrides=INGRESS_EXAMPLE)
    assert INGRESS_MANIFESTS.read_text() == render_manifests(run, kinds=("Ingress",)), (
        "docs/manifests/prod-ingress.yaml is stale: run `make manifests`"
    )
    tool = Path(sys.executable).parent / "kubernetes-validate"
    result = subprocess.run(
        [str(tool), "--strict", "-k", KUBERNETES_VERSION, str(INGRESS_MANIFESTS)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed for resource") == 1, result.stdout


def test_schema_validation_rejects_a_misspelt_field(prod_objects: list[dict[str, Any]]) -> None:
    # Proves the strict check above can fail: an unknown field is an error, not ignored.
    deployment = json.loads(json.dumps(next(o for o in prod_objects if o["kind"] == "Deployment")))
    deployment["spec"]["replica"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_rendered_prod_manifests_are_current(prod_stack: ProgramRun) -> None:
    assert MANIFESTS.exists(), "run `make manifests` to create docs/manifests/"
    assert MANIFESTS.read_text() == render_manifests(prod_stack), (
        "docs/manifests/prod.yaml is stale: run `make manifests`"
    )


def test_committed_prod_manifests_pass_the_kubernetes_validate_cli_strictly() -> None:
    tool = Path(sys.executable).parent / "kubernetes-validate"
    assert tool.exists(), "install the dev lock: kubernetes-validate is pinned in requirements-dev.txt"
    result = subprocess.run(
        [str(tool), "--strict", "-k", KUBERNETES_VERSION, str(MANIFESTS)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed for resource") == 9, result.stdout
