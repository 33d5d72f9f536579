"""Stack settings: bad values fail before any resource exists, naming key, value and what is allowed."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.docker import public_url
from components.settings import AppEnv, SettingsError, defaults, parse_settings
from tests.support.pulumi_mocks import run_failing_program, run_program
from tests.support.resource_types import CONTAINER, DEPLOYMENT
from tests.support.stack_config import TEST_SECRET_KEY

GOOD_DATABASE_URL = "postgresql+psycopg://model:pw@db:5432/model"
GOOD_SECRET_KEY = TEST_SECRET_KEY


def problems(stack: str, values: dict[str, Any], secret_keys: tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(SettingsError) as raised:
        parse_settings(stack, {key: str(value) for key, value in values.items()}, set(secret_keys))
    return raised.value.problems


def kubernetes_values(**extra: Any) -> dict[str, Any]:
    return {
        "target": "kubernetes",
        "imageRepository": "registry.example.com/team/service",
        "databaseUrl": GOOD_DATABASE_URL,
        "platform": "linux/amd64",
        "secretKey": GOOD_SECRET_KEY,
        **extra,
    }


K8S_SECRETS = ("databaseUrl", "secretKey")


def test_defaults_give_the_old_online_sh_test_deploy() -> None:
    settings = parse_settings("test", {}, set())
    assert settings.target == "docker"
    assert settings.runtime_env == "test"
    assert settings.docker.container_name == "microservice.model"
    assert settings.docker.host_port == 8083
    assert settings.docker.log_dir == "/tmp/data/test/logs"
    assert settings.image.repository == "microservice.model"
    assert settings.image.tag == "test"
    assert settings.image.push is False
    assert settings.secrets.database_url is None


def test_runtime_env_defaults_to_the_stack_name() -> None:
    assert parse_settings("prod", {"secretKey": GOOD_SECRET_KEY}, {"secretKey"}).runtime_env == "prod"


def test_stack_name_other_than_test_or_prod_fails_like_the_old_script() -> None:
    [problem] = problems("staging", {})
    assert problem.startswith("runtimeEnv = 'staging' (from the stack name) is not allowed")
    assert "'test' or 'prod'" in problem
    assert "bash online.sh test" in problem


def test_runtime_env_setting_other_than_test_or_prod_fails() -> None:
    [problem] = problems("test", {"runtimeEnv": "dev"})
    assert problem.startswith("runtimeEnv = 'dev' (from runtimeEnv) is not allowed")
    assert "'test' or 'prod'" in problem


def test_runtime_env_setting_overrides_the_stack_name() -> None:
    assert parse_settings("qa", {"runtimeEnv": "test"}, set()).runtime_env == "test"


BAD_VALUES = [
    ("target", "swarm", "target = 'swarm' is not allowed: expected one of 'docker', 'kubernetes'"),
    ("hostPort", "99999", "hostPort = '99999' is not allowed: expected a whole number from 1 to 65535"),
    ("hostPort", "0", "hostPort = '0' is not allowed: expected a whole number from 1 to 65535"),
    ("hostPort", "http", "hostPort = 'http' is not allowed: expected a whole number from 1 to 65535"),
    ("hostIp", "localhost", "hostIp = 'localhost' is not allowed: expected an IP address"),
    ("logDir", "logs", "logDir = 'logs' is not allowed: expected an absolute host path"),
    ("logDir", "/tmp/a:b", "logDir = '/tmp/a:b' is not allowed: expected an absolute host path"),
    ("restartPolicy", "sometimes", "restartPolicy = 'sometimes' is not allowed: expected one of 'no'"),
    ("healthyTimeout", "5", "healthyTimeout = '5' is not allowed: expected a whole number from 10 to 3600"),
    ("containerSuffix", "Blue Team", "containerSuffix = 'Blue Team' is not allowed"),
    ("dockerHost", "/var/run/docker.sock", "dockerHost = '/var/run/docker.sock' is not allowed"),
    ("logLevel", "verbose", "logLevel = 'verbose' is not allowed: expected one of 'debug'"),
    ("gracefulTimeout", "0", "gracefulTimeout = '0' is not allowed: expected a whole number from 1 to 600"),
    ("imageRepository", "Microservice:latest", "imageRepository = 'Microservice:latest' is not allowed"),
    ("baseImage", "", "baseImage = '' is not allowed: expected an image reference"),
    (
        "pipIndexUrl",
        "mirror.local",
        "pipIndexUrl = 'mirror.local' is not allowed: expected empty or an http(s)",
    ),
    ("platform", "amd64", "platform = 'amd64' is not allowed: expected empty or os/arch"),
    ("buildTarget", "-x", "buildTarget = '-x' is not allowed: expected a Dockerfile stage name"),
    ("namespace", "Micro_Service", "namespace = 'Micro_Service' is not allowed: expected a DNS label"),
    ("replicas", "0", "replicas = '0' is not allowed: expected a whole number from 1 to 50"),
    ("replicas", "three", "replicas = 'three' is not allowed: expected a whole number from 1 to 50"),
    (
        "serviceType",
        "ExternalName",
        "serviceType = 'ExternalName' is not allowed: expected one of 'ClusterIP'",
    ),
    (
        "metricsMonitor",
        "ServiceMonitors",
        "metricsMonitor = 'ServiceMonitors' is not allowed: expected one of",
    ),
    ("cpuRequest", "lots", "cpuRequest = 'lots' is not allowed: expected CPU cores like 250m"),
    ("memoryLimit", "1GB", "memoryLimit = '1GB' is not allowed: expected memory like 256Mi"),
    ("cpuRequest", "2", "cpuRequest = '2' is not allowed: it must not exceed cpuLimit '1'"),
    ("memoryRequest", "1Gi", "memoryRequest = '1Gi' is not allowed: it must not exceed memoryLimit '512Mi'"),
    (
        "imageRepository",
        "bad_host.io/team/x",
        "imageRepository = 'bad_host.io/team/x' has an invalid registry",
    ),
    ("hostport", "8083", "hostport is not a setting of this program: allowed keys are target, runtimeEnv"),
]


@pytest.mark.parametrize(
    ("key", "value", "message"), BAD_VALUES, ids=[f"{k}={v!r}" for k, v, _ in BAD_VALUES]
)
def test_bad_value_fails_naming_key_value_and_what_is_allowed(key: str, value: str, message: str) -> None:
    [problem] = problems("test", {key: value})
    assert problem.startswith(message), problem


def test_every_bad_key_is_reported_at_once_in_one_error() -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings("test", {"hostPort": "-1", "target": "nomad", "replicas": "100"}, set())
    message = str(raised.value)
    assert message.startswith("Stack 'test' has invalid configuration; nothing was deployed:")
    assert "hostPort = '-1'" in message
    assert "target = 'nomad'" in message
    assert "replicas = '100'" in message
    assert len(raised.value.problems) == 3


def test_prod_without_a_secret_key_fails() -> None:
    [problem] = problems("prod", {})
    assert problem.startswith(
        "secretKey = <unset> is not allowed on prod: expected a random secret of at least 32"
    )
    assert "pulumi config set --secret secretKey" in problem


def test_prod_with_a_short_secret_key_fails_without_echoing_it() -> None:
    [problem] = problems("prod", {"secretKey": "short-key"}, ("secretKey",))
    assert problem.startswith(
        "secretKey = <secret, 9 characters> is not allowed: it must be at least 32 characters (got 9)"
    )
    assert "short-key" not in problem


@pytest.mark.parametrize("stack", ["test", "prod"])
@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("k" * 48, "it is too repetitive (1 distinct characters, one piece repeated)"),
        ("password" * 4, "it is too repetitive"),
        (" " * 32, "it is too repetitive"),
    ],
)
def test_a_weak_secret_key_fails_on_every_stack_by_the_services_own_rule(
    stack: str, key: str, reason: str
) -> None:
    # The service refuses these keys at start (app/service/secret_key.py); the program says so at preview.
    [problem] = problems(stack, {"secretKey": key}, ("secretKey",))
    assert problem.startswith(f"secretKey = <secret, {len(key)} characters> is not allowed: {reason}")
    assert key not in problem


def test_kubernetes_target_without_a_secret_key_fails_on_the_test_stack_too() -> None:
    # Pods share no /app/data: without a key each would make its own and refuse the others' tokens.
    values = kubernetes_values()
    del values["secretKey"]
    [problem] = problems("test", values, ("databaseUrl",))
    assert problem.startswith("secretKey = <unset> is not allowed on the kubernetes target")


@pytest.mark.parametrize("key", ["databaseUrl", "secretKey", "registryPassword"])
def test_secret_set_in_plaintext_fails_without_echoing_it(key: str) -> None:
    values = {key: "sqlite:////app/data/x.db" if key == "databaseUrl" else "plaintext-value-0123456789"}
    if key == "secretKey":
        values[key] = "plaintext-value-" + TEST_SECRET_KEY  # strong, so plaintext is the one problem
    if key == "registryPassword":
        values["registryUsername"] = "deploy"
    [problem] = problems("test", values)
    assert problem.startswith(f"{key} = <plaintext, ")
    assert f"`pulumi config set --secret {key} ...`" in problem
    assert "plaintext-value" not in problem


def test_database_url_with_an_unknown_scheme_fails_without_echoing_it() -> None:
    [problem] = problems("test", {"databaseUrl": "mysql://u:hunter2@db/model"}, ("databaseUrl",))
    assert problem.startswith("databaseUrl = <secret, 26 characters> with scheme 'mysql' is not allowed")
    assert "hunter2" not in problem


def test_kubernetes_target_without_a_database_url_fails() -> None:
    values = kubernetes_values()
    del values["databaseUrl"]
    [problem] = problems("test", values, ("secretKey",))
    assert problem.startswith("databaseUrl = <unset> is not allowed on the kubernetes target")


def test_kubernetes_target_with_sqlite_fails() -> None:
    [problem] = problems("test", kubernetes_values(databaseUrl="sqlite:////app/data/x.db"), K8S_SECRETS)
    assert "(sqlite) is not allowed on the kubernetes target" in problem


def test_kubernetes_target_without_a_registry_in_the_image_repository_fails() -> None:
    [problem] = problems("test", kubernetes_values(imageRepository="microservice.model"), K8S_SECRETS)
    assert problem.startswith(
        "imageRepository = 'microservice.model' is not allowed on the kubernetes target"
    )


def test_registry_username_without_password_fails() -> None:
    [problem] = problems("test", kubernetes_values(registryUsername="deploy"), K8S_SECRETS)
    assert problem.startswith("registryUsername and registryPassword must be set together")


def test_kubernetes_settings_are_typed() -> None:
    settings = parse_settings(
        "prod",
        kubernetes_values(secretKey=GOOD_SECRET_KEY, replicas="3", cpuRequest="0.5", memoryLimit="1Gi"),
        {"databaseUrl", "secretKey"},
    )
    assert settings.kubernetes.replicas == 3
    assert settings.image.push is True
    assert settings.image.registry_server == "registry.example.com"
    assert settings.image.tag == "prod"


def test_every_setting_has_a_default() -> None:
    settings = parse_settings("test", dict.fromkeys(defaults()), set())
    assert settings.docker.host == defaults()["dockerHost"]


def test_bad_stack_config_stops_the_real_program_before_any_resource_is_registered() -> None:
    error, registered = run_failing_program("test", overrides={"hostPort": 70000, "restartPolicy": "never"})
    assert isinstance(error, SettingsError)
    assert "hostPort = '70000' is not allowed" in str(error)
    assert "restartPolicy = 'never' is not allowed" in str(error)
    assert registered == []


def test_prod_stack_without_its_secrets_fails_naming_each_missing_secret() -> None:
    error, registered = run_failing_program("prod", secrets={})
    assert isinstance(error, SettingsError)
    message = str(error)
    assert "databaseUrl = <unset> is not allowed on the kubernetes target" in message
    assert "secretKey = <unset> is not allowed on prod" in message
    assert "registryUsername and registryPassword must be set together" in message
    assert registered == []


def test_a_stack_named_other_than_test_or_prod_stops_the_real_program() -> None:
    error, registered = run_failing_program("staging")  # `pulumi up -s staging`, no stack file
    assert isinstance(error, SettingsError)
    assert "runtimeEnv = 'staging' (from the stack name) is not allowed" in str(error)
    assert registered == []


def test_the_test_stack_switched_to_kubernetes_deploys_there() -> None:
    run = run_program(
        "test",
        overrides={
            "target": "kubernetes",
            "imageRepository": "registry.example.com/team/service",
            "platform": "linux/amd64",
        },
        secrets={"databaseUrl": GOOD_DATABASE_URL, "secretKey": GOOD_SECRET_KEY},
    )
    assert run.export("target") == "kubernetes"
    assert run.one(DEPLOYMENT).input("metadata")["namespace"] == "microservice-model"
    assert not run.of_type(CONTAINER)


@pytest.mark.parametrize(
    ("values", "url"),
    [
        ({}, "http://127.0.0.1:8083"),
        ({"hostIp": "10.0.0.5", "hostPort": "9000"}, "http://10.0.0.5:9000"),
        ({"hostIp": "::1"}, "http://[::1]:8083"),
        (
            {"dockerHost": "tcp://docker.internal:2376", "platform": "linux/amd64"},
            "http://docker.internal:8083",
        ),
    ],
)
def test_exported_url_names_an_address_that_answers(values: dict[str, str], url: str) -> None:
    assert public_url(parse_settings("test", values, set()).docker) == url


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"dockerHost": "ssh://deploy@build.example.com"}, "with a remote dockerHost"),
        ({"dockerHost": "tcp://10.0.0.5:2376"}, "with a remote dockerHost"),
        (kubernetes_values(platform=""), "on the kubernetes target"),
    ],
)
def test_empty_platform_is_refused_where_the_image_runs_on_another_machine(
    values: dict[str, Any], where: str
) -> None:
    # pulumi-docker fills an empty platform with the OS/arch of the machine running Pulumi, not the
    # engine's: an arm64 laptop would build arm64 images for an amd64 server.
    [problem] = problems("test", values, tuple(key for key in K8S_SECRETS if key in values))
    assert problem.startswith(f"platform = '' is not allowed {where}")
    assert "set it, e.g. linux/amd64" in problem


def test_empty_platform_is_fine_on_the_local_engine_and_for_a_pinned_image() -> None:
    assert parse_settings("test", {}, set()).image.platform is None  # the engine is this machine
    pinned = kubernetes_values(platform="", imageRef="registry.example.com/team/service@sha256:" + "a" * 64)
    assert parse_settings("test", pinned, set(K8S_SECRETS)).image.platform is None  # nothing is built
    remote = {"dockerHost": "ssh://deploy@build.example.com", "platform": "linux/arm64"}
    assert parse_settings("test", remote, set()).image.platform == "linux/arm64"


# Issue 13: the preStop pause, the NetworkPolicy and the Ingress.


@pytest.mark.parametrize("graceful", [1, 30, 600])
@pytest.mark.parametrize("pause", [0, 5, 60])
def test_the_pre_stop_pause_and_the_graceful_drain_fit_in_the_termination_grace(
    pause: int, graceful: int
) -> None:
    settings = parse_settings(
        "prod", kubernetes_values(preStopSeconds=pause, gracefulTimeout=graceful), set(K8S_SECRETS)
    ).kubernetes
    assert settings.pre_stop_seconds == pause
    # The kubelet counts the grace from the start of preStop: pause + drain must end before SIGKILL.
    assert pause + graceful < settings.termination_grace_seconds


@pytest.mark.parametrize("value", ["-1", "61", "five"])
def test_a_pre_stop_pause_out_of_range_fails(value: str) -> None:
    [problem] = problems("prod", kubernetes_values(preStopSeconds=value), K8S_SECRETS)
    assert problem == f"preStopSeconds = {value!r} is not allowed: expected a whole number from 0 to 60"


def test_network_policy_settings_are_typed() -> None:
    settings = parse_settings(
        "prod",
        kubernetes_values(
            clientNamespaces="frontend, batch",
            clientCidrs="203.0.113.7",
            databaseUrl="postgresql+psycopg://u:p@10.20.3.4:6432/model",
        ),
        set(K8S_SECRETS),
    )
    policy = settings.kubernetes.network_policy
    assert policy is not None
    assert policy.client_namespaces == ("frontend", "batch")
    assert policy.client_cidrs == ("203.0.113.7/32",)
    # An IP host in the URL is the database's range when databaseCidrs is empty; the port comes along.
    assert (policy.database_cidrs, policy.database_port) == (("10.20.3.4/32",), 6432)
    assert policy.ingress_controller_namespace == "ingress-nginx"
    assert policy.metrics_namespaces == ("monitoring",)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("networkPolicy", "yes", "networkPolicy = 'yes' is not allowed: expected true or false"),
        ("clientNamespaces", "frontend,Bad_NS", "'Bad_NS' is not a namespace name"),
        ("clientCidrs", "10.0.0.0/8,not-a-net", "'not-a-net' is not an IP network"),
        ("databaseCidrs", "300.1.1.1", "'300.1.1.1' is not an IP network"),
        ("metricsNamespaces", "mon itoring", "is not a namespace name"),
        ("ingressControllerNamespace", "Ingress", "expected empty or a namespace name"),
        ("dnsNamespace", "", "dnsNamespace = '' is not allowed"),
        ("ingressHost", "https://model.example.com", "expected a lowercase DNS name"),
        ("ingressClass", "", "ingressClass = '' is not allowed"),
        ("ingressTlsSecret", "TLS secret", "expected empty or a Secret name"),
    ],
)
def test_bad_network_and_ingress_settings_fail_naming_what_is_allowed(
    key: str, value: str, message: str
) -> None:
    [problem] = problems("prod", kubernetes_values(**{key: value}), K8S_SECRETS)
    assert problem.startswith(f"{key} = {value!r} is not allowed"), problem
    assert message in problem


def test_an_externally_exposed_service_needs_client_ranges_while_the_policy_is_on() -> None:
    [problem] = problems("prod", kubernetes_values(serviceType="LoadBalancer"), K8S_SECRETS)
    assert problem.startswith("clientCidrs = '' is not allowed with serviceType LoadBalancer")
    parse_settings(
        "prod", kubernetes_values(serviceType="LoadBalancer", clientCidrs="0.0.0.0/0"), set(K8S_SECRETS)
    )
    parse_settings("prod", kubernetes_values(serviceType="NodePort", networkPolicy="false"), set(K8S_SECRETS))


def test_ingress_on_needs_a_host() -> None:
    [problem] = problems("prod", kubernetes_values(ingress="true"), K8S_SECRETS)
    assert problem == "ingressHost = '' is not allowed with ingress on: name the host the Ingress answers"
    settings = parse_settings(
        "prod", kubernetes_values(ingress="True", ingressHost="microservice.model.com"), set(K8S_SECRETS)
    )
    assert settings.kubernetes.ingress is not None
    assert (settings.kubernetes.ingress.host, settings.kubernetes.ingress.tls_secret) == (
        "microservice.model.com",
        None,
    )


def test_every_secret_of_the_app_env_gets_a_file_and_a_file_variable() -> None:
    """The list is AppEnv.secret: a secret added there (e.g. a key-encryption key) becomes a file on both
    targets and a VAR_FILE the service reads, with no other change."""
    value = pulumi.Output.secret("x")
    env = AppEnv(plain={"RUNTIME_ENV": "prod"}, secret={"SECRET_KEY": value, "KEY_ENCRYPTION_KEY": value})
    assert env.secret_files() == {
        "SECRET_KEY": "/run/secrets/secret_key",
        "KEY_ENCRYPTION_KEY": "/run/secrets/key_encryption_key",
    }
    assert env.file_env() == {
        "SECRET_KEY_FILE": "/run/secrets/secret_key",
        "KEY_ENCRYPTION_KEY_FILE": "/run/secrets/key_encryption_key",
    }
