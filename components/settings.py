"""All stack settings, read from Pulumi config once and validated before any resource exists.

`parse_settings` is pure (plain strings in, a frozen `Settings` out) so every rule is unit-testable;
`load_settings` is the thin reader the program calls. Components never read `pulumi.Config`:
they get the typed pieces of `Settings` they need.

Every bad key is reported in ONE `SettingsError`, one line per key, naming the key, the value and
what is allowed. Secret values are never echoed, only described.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

import pulumi

PROJECT = "microservice-model"

Target = Literal["docker", "kubernetes"]
TARGETS: tuple[Target, ...] = ("docker", "kubernetes")
RUNTIME_ENVS = ("test", "prod")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
DOCKER_HOST_SCHEMES = ("unix://", "tcp://", "ssh://", "npipe://")
DATABASE_SCHEMES = ("sqlite", "postgresql+psycopg")
SECRET_KEYS = ("databaseUrl", "secretKey", "registryPassword")

# Every key the program reads, with the default used when the stack leaves it out. Pulumi.yaml's
# `config:` block declares the same keys and defaults (a test keeps the two in sync).
DEFAULTS: dict[str, str] = {
    "target": "docker",
    "runtimeEnv": "",
    "imageRepository": "microservice.model",
    "imageRef": "",
    "baseImage": "python:3.12-slim",
    "pipIndexUrl": "",
    "platform": "",
    "buildTarget": "runtime",
    "logLevel": "info",
    "gracefulTimeout": "30",
    "databaseUrl": "",
    "secretKey": "",
    "dockerHost": "unix:///var/run/docker.sock",
    "containerSuffix": "",
    "hostIp": "0.0.0.0",  # noqa: S104 - publishing on all interfaces is what `docker run -p 8083:8000` did
    "hostPort": "8083",
    "logDir": "",
    "restartPolicy": "unless-stopped",
    "healthyTimeout": "120",
    "kubeconfig": "",
    "kubeContext": "",
    "namespace": "microservice-model",
    "replicas": "2",
    "serviceType": "ClusterIP",
    "cpuRequest": "250m",
    "cpuLimit": "1",
    "memoryRequest": "256Mi",
    "memoryLimit": "512Mi",
    "registryUsername": "",
    "registryPassword": "",
}

CONTAINER_NAME = "microservice.model"  # the old script's `--name microservice.model`
SERVICE_PORT = 8000  # gunicorn inside the image (docs/contract.md)
APP_UID = 10001  # the image's `app` user (docs/contract.md)
TERMINATION_MARGIN_SECONDS = 15  # extra time after gunicorn's graceful timeout before SIGKILL

_SUFFIX = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,30}$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_REPOSITORY = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
_REGISTRY_HOST = re.compile(r"^[a-zA-Z0-9.-]+(:[0-9]+)?$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")  # what `docker` and OCI registries accept: lowercase hex
_PLATFORM = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$")
_CPU = re.compile(r"^([0-9]+(\.[0-9]+)?)(m?)$")
_MEMORY = re.compile(r"^([0-9]+)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_MEMORY_UNITS = {
    None: 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


class SettingsError(pulumi.RunError):
    """One or more stack settings are invalid; the message has one line per bad key.

    A `pulumi.RunError`, so `pulumi up` prints just the message, without a Python traceback.
    """

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"Stack '{stack}' has invalid configuration; nothing was deployed:\n{lines}")


@dataclass(frozen=True)
class ImageSettings:
    repository: str
    tag: str
    base_image: str
    pip_index_url: str
    platform: str | None
    build_target: str
    push: bool  # False on the docker target: the image stays in the local engine
    registry_server: str | None
    registry_username: str | None
    # `imageRef`: an earlier image to deploy as it is, by digest, instead of building app/ (a rollback).
    pinned_ref: str | None


@dataclass(frozen=True)
class DockerSettings:
    host: str
    container_name: str
    host_ip: str
    host_port: int
    log_dir: str
    restart_policy: str
    healthy_timeout: int
    network_name: str
    volume_name: str


@dataclass(frozen=True)
class KubernetesSettings:
    kubeconfig: str | None
    context: str | None
    namespace: str
    replicas: int
    service_type: str
    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str


@dataclass(frozen=True)
class Secrets:
    """Pulumi secrets (None when the stack does not set them)."""

    database_url: pulumi.Output[str] | None
    secret_key: pulumi.Output[str] | None
    registry_password: pulumi.Output[str] | None


@dataclass(frozen=True)
class ServiceEnv:
    """The service's environment: plain values and secret values kept apart."""

    plain: dict[str, str]
    secret: dict[str, pulumi.Output[str]]

    def names(self) -> list[str]:
        return [*self.plain, *self.secret]


@dataclass(frozen=True)
class Settings:
    stack: str
    target: Target
    runtime_env: str
    log_level: str
    graceful_timeout: int
    image: ImageSettings
    docker: DockerSettings
    kubernetes: KubernetesSettings
    secrets: Secrets

    @property
    def labels(self) -> dict[str, str]:
        """Labels put on everything the program creates, so it can be found and cleaned up."""
        return {
            "app.kubernetes.io/name": PROJECT,
            "app.kubernetes.io/instance": self.stack,
            "app.kubernetes.io/managed-by": "pulumi",
        }

    @property
    def termination_grace_seconds(self) -> int:
        return self.graceful_timeout + TERMINATION_MARGIN_SECONDS

    def service_env(self) -> ServiceEnv:
        plain = {
            "RUNTIME_ENV": self.runtime_env,
            "LOG_LEVEL": self.log_level,
            "GUNICORN_GRACEFUL_TIMEOUT": str(self.graceful_timeout),
        }
        secret: dict[str, pulumi.Output[str]] = {}
        if self.secrets.database_url is not None:
            secret["DATABASE_URL"] = self.secrets.database_url
        if self.secrets.secret_key is not None:
            secret["SECRET_KEY"] = self.secrets.secret_key
        return ServiceEnv(plain=plain, secret=secret)


def _int_in_range(problems: list[str], key: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        problems.append(f"{key} = {raw!r} is not allowed: expected a whole number from {low} to {high}")
        return low
    return value


def _one_of(problems: list[str], key: str, raw: str, allowed: Collection[str]) -> str:
    if raw not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        problems.append(f"{key} = {raw!r} is not allowed: expected one of {choices}")
    return raw


def _cpu_millis(raw: str) -> Decimal | None:
    match = _CPU.match(raw)
    if not match:
        return None
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:  # pragma: no cover - the regex only lets decimals through
        return None
    return number if match.group(3) == "m" else number * 1000


def _memory_bytes(raw: str) -> int | None:
    match = _MEMORY.match(raw)
    if not match:
        return None
    return int(match.group(1)) * _MEMORY_UNITS[match.group(2)]


def _registry_host(repository: str) -> str | None:
    """The registry part of an image repository, as Docker reads it (`host[:port]/path`)."""
    first, sep, _ = repository.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def _describe_secret(raw: str) -> str:
    return f"<secret, {len(raw)} characters>"


Raw = Callable[[str], str]  # a key's raw string value, the default when the stack leaves it out


def parse_settings(stack: str, values: Mapping[str, str | None], secret_keys: Collection[str]) -> Settings:
    """Validate raw config values (as the Pulumi CLI passes them: strings) into `Settings`.

    `values` maps un-namespaced keys to strings (missing or None means "use the default");
    `secret_keys` lists the keys the stack stores encrypted. Raises `SettingsError` listing
    every bad key.
    """
    problems: list[str] = []
    for key in sorted(set(values) - set(DEFAULTS)):
        problems.append(f"{key} is not a setting of this program: allowed keys are {', '.join(DEFAULTS)}")

    def raw(key: str) -> str:
        value = values.get(key)
        return DEFAULTS[key] if value is None else value

    target = _one_of(problems, "target", raw("target"), TARGETS)
    runtime_env = _runtime_env(problems, raw, stack)
    log_level = _one_of(problems, "logLevel", raw("logLevel"), LOG_LEVELS)
    graceful_timeout = _int_in_range(problems, "gracefulTimeout", raw("gracefulTimeout"), 1, 600)
    secret_values = _secret_values(problems, raw, secret_keys, target, runtime_env)
    image = _image_settings(problems, raw, stack, target, secret_values)
    docker = _docker_settings(problems, raw, stack, runtime_env)
    kubernetes = _kubernetes_settings(problems, raw)
    if problems:
        raise SettingsError(stack, problems)

    def secret(key: str) -> pulumi.Output[str] | None:
        # What Config.get_secret returns: the value wrapped as a Pulumi secret.
        return pulumi.Output.secret(secret_values[key]) if secret_values[key] else None

    return Settings(
        stack=stack,
        target=target,  # type: ignore[arg-type]  # checked against TARGETS above
        runtime_env=runtime_env,
        log_level=log_level,
        graceful_timeout=graceful_timeout,
        image=image,
        docker=docker,
        kubernetes=kubernetes,
        secrets=Secrets(
            database_url=secret("databaseUrl"),
            secret_key=secret("secretKey"),
            registry_password=secret("registryPassword"),
        ),
    )


def _runtime_env(problems: list[str], raw: Raw, stack: str) -> str:
    """RUNTIME_ENV: the stack name unless set, and only test or prod, as the old script allowed."""
    runtime_env = raw("runtimeEnv") or stack
    if runtime_env not in RUNTIME_ENVS:
        source = "runtimeEnv" if raw("runtimeEnv") else "the stack name"
        problems.append(
            f"runtimeEnv = {runtime_env!r} (from {source}) is not allowed: the runtime environment must be "
            "'test' or 'prod', as in `bash online.sh test` or `bash online.sh prod`; deploy the stack "
            "`test` or `prod`, or set `pulumi config set runtimeEnv test|prod`"
        )
    return runtime_env


def _secret_values(
    problems: list[str], raw: Raw, secret_keys: Collection[str], target: str, runtime_env: str
) -> dict[str, str]:
    """The secrets' plain values, for validation only; a plaintext-set secret is refused (never echoed)."""
    values: dict[str, str] = {}
    for key in SECRET_KEYS:
        value = raw(key)
        if value and key not in secret_keys:
            problems.append(
                f"{key} = <plaintext, {len(value)} characters> is not allowed: it must be a Pulumi secret, "
                f"set it with `pulumi config set --secret {key} ...`"
            )
        values[key] = value

    database_url = values["databaseUrl"]
    if database_url:
        scheme = database_url.partition("://")[0] if "://" in database_url else ""
        if scheme not in DATABASE_SCHEMES:
            problems.append(
                f"databaseUrl = {_describe_secret(database_url)} with scheme {scheme!r} is not allowed: "
                "expected sqlite:///... or postgresql+psycopg://user:password@host:port/database"
            )
        elif target == "kubernetes" and scheme == "sqlite":
            problems.append(
                f"databaseUrl = {_describe_secret(database_url)} (sqlite) is not allowed on the kubernetes "
                "target: every pod would get its own database; use postgresql+psycopg://..."
            )
    elif target == "kubernetes":
        problems.append(
            "databaseUrl = <unset> is not allowed on the kubernetes target: pods share no disk, so set a "
            "PostgreSQL URL with `pulumi config set --secret databaseUrl postgresql+psycopg://...`"
        )

    secret_key = values["secretKey"]
    if runtime_env == "prod" and len(secret_key) < 32:
        shown = _describe_secret(secret_key) if secret_key else "<unset>"
        problems.append(
            f"secretKey = {shown} is not allowed on prod: expected a random secret of at least 32 "
            "characters, e.g. `pulumi config set --secret secretKey $(openssl rand -hex 32)`"
        )
    return values


def _image_settings(
    problems: list[str], raw: Raw, stack: str, target: str, secret_values: Mapping[str, str]
) -> ImageSettings:
    repository = raw("imageRepository")
    registry_server = _registry_host(repository)
    path = repository.split("/", 1)[-1] if registry_server else repository
    if not _REPOSITORY.match(path):
        problems.append(
            f"imageRepository = {repository!r} is not allowed: expected a lowercase image name without "
            "tag or digest, e.g. microservice.model or registry.example.com/team/microservice-model"
        )
    if registry_server is not None and not _REGISTRY_HOST.match(registry_server):
        problems.append(f"imageRepository = {repository!r} has an invalid registry host {registry_server!r}")
    if target == "kubernetes" and registry_server is None:
        problems.append(
            f"imageRepository = {repository!r} is not allowed on the kubernetes target: the cluster pulls "
            "the image, so name a registry to push to, e.g. registry.example.com/team/microservice-model"
        )
    registry_username = raw("registryUsername")
    has_password = bool(secret_values["registryPassword"])
    if bool(registry_username) != has_password:
        problems.append(
            "registryUsername and registryPassword must be set together (registryUsername = "
            f"{registry_username!r}, registryPassword = {'<set>' if has_password else '<unset>'})"
        )
    base_image = raw("baseImage")
    if not base_image or any(c.isspace() for c in base_image):
        problems.append(f"baseImage = {base_image!r} is not allowed: expected an image reference")
    pip_index_url = raw("pipIndexUrl")
    if pip_index_url and not pip_index_url.startswith(("http://", "https://")):
        problems.append(f"pipIndexUrl = {pip_index_url!r} is not allowed: expected empty or an http(s) URL")
    platform = raw("platform")
    if platform and not _PLATFORM.match(platform):
        problems.append(
            f"platform = {platform!r} is not allowed: expected empty or os/arch, e.g. linux/amd64"
        )
    build_target = raw("buildTarget")
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", build_target):
        problems.append(f"buildTarget = {build_target!r} is not allowed: expected a Dockerfile stage name")
    return ImageSettings(
        repository=repository,
        tag=stack,
        base_image=base_image,
        pip_index_url=pip_index_url,
        platform=platform or None,
        build_target=build_target,
        push=target == "kubernetes",
        registry_server=registry_server,
        registry_username=registry_username or None,
        pinned_ref=_pinned_ref(problems, raw("imageRef"), target),
    )


def _pinned_ref(problems: list[str], ref: str, target: str) -> str | None:
    """`imageRef`: empty (build app/), or an image pinned by digest that the target can run.

    `<repository>@sha256:<64 hex>` (what `imageDigest` exports on kubernetes), or on the docker
    target a local image ID `sha256:<64 hex>` (what it exports there). A tag is refused: it can
    point at another image tomorrow, so the rollback would not be the image the operator chose.
    """
    if not ref:
        return None
    repository, at, digest = ref.rpartition("@")
    registry_server = _registry_host(repository)
    path = repository.split("/", 1)[-1] if registry_server else repository
    is_repo_digest = bool(
        at
        and _DIGEST.match(digest)
        and _REPOSITORY.match(path)
        and (registry_server is None or _REGISTRY_HOST.match(registry_server))
    )
    is_local_id = bool(_DIGEST.match(ref))
    if not is_repo_digest and not is_local_id:
        problems.append(
            f"imageRef = {ref!r} is not allowed: expected empty (build app/) or an image pinned by "
            "digest, <repository>@sha256:<64 hex> or, on the docker target, a local image ID "
            "sha256:<64 hex>, e.g. an earlier `pulumi stack output imageDigest`; tags such as :latest "
            "can move, so they are refused"
        )
    elif target == "kubernetes" and is_local_id:
        problems.append(
            f"imageRef = {ref!r} is not allowed on the kubernetes target: a local image ID exists in one "
            "Docker engine only; expected <registry host>/<repository>@sha256:<64 hex> the cluster can pull"
        )
    elif target == "kubernetes" and registry_server is None:
        problems.append(
            f"imageRef = {ref!r} is not allowed on the kubernetes target: the cluster pulls the image, "
            "so name its registry, e.g. registry.example.com/team/microservice-model@sha256:<64 hex>"
        )
    return ref


def _docker_settings(problems: list[str], raw: Raw, stack: str, runtime_env: str) -> DockerSettings:
    docker_host = raw("dockerHost")
    if not docker_host.startswith(DOCKER_HOST_SCHEMES):
        problems.append(
            f"dockerHost = {docker_host!r} is not allowed: expected a URL starting with "
            + ", ".join(DOCKER_HOST_SCHEMES)
        )
    suffix = raw("containerSuffix")
    if suffix and not _SUFFIX.match(suffix):
        problems.append(
            f"containerSuffix = {suffix!r} is not allowed: expected empty or up to 31 characters of "
            "a-z, 0-9, '_', '.', '-' starting with a letter or digit"
        )
    host_ip = raw("hostIp")
    try:
        ipaddress.ip_address(host_ip)
    except ValueError:
        problems.append(
            f"hostIp = {host_ip!r} is not allowed: expected an IP address, e.g. 0.0.0.0 or 127.0.0.1"
        )
    log_dir = raw("logDir") or f"/tmp/data/{runtime_env}/logs"  # noqa: S108 - the old script's log path
    if not log_dir.startswith("/") or ":" in log_dir or any(c.isspace() for c in log_dir):
        problems.append(
            f"logDir = {log_dir!r} is not allowed: expected an absolute host path without ':' or spaces"
        )
    name_suffix = f"-{suffix}" if suffix else ""
    return DockerSettings(
        host=docker_host,
        container_name=f"{CONTAINER_NAME}{name_suffix}",
        host_ip=host_ip,
        host_port=_int_in_range(problems, "hostPort", raw("hostPort"), 1, 65535),
        log_dir=log_dir,
        restart_policy=_one_of(problems, "restartPolicy", raw("restartPolicy"), RESTART_POLICIES),
        healthy_timeout=_int_in_range(problems, "healthyTimeout", raw("healthyTimeout"), 10, 3600),
        network_name=f"{PROJECT}-{stack}{name_suffix}",
        volume_name=f"{PROJECT}-data-{stack}{name_suffix}",
    )


def _kubernetes_settings(problems: list[str], raw: Raw) -> KubernetesSettings:
    namespace = raw("namespace")
    if not _DNS_LABEL.match(namespace):
        problems.append(
            f"namespace = {namespace!r} is not allowed: expected a DNS label (a-z, 0-9, '-', at most 63)"
        )
    cpu = {key: _cpu_millis(raw(key)) for key in ("cpuRequest", "cpuLimit")}
    for key, millis in cpu.items():
        if millis is None or millis <= 0:
            problems.append(f"{key} = {raw(key)!r} is not allowed: expected CPU cores like 250m, 0.5 or 2")
    memory = {key: _memory_bytes(raw(key)) for key in ("memoryRequest", "memoryLimit")}
    for key, size in memory.items():
        if size is None or size <= 0:
            problems.append(f"{key} = {raw(key)!r} is not allowed: expected memory like 256Mi or 1Gi")
    cpu_request, cpu_limit = cpu["cpuRequest"], cpu["cpuLimit"]
    if cpu_request and cpu_limit and cpu_request > cpu_limit:
        problems.append(
            f"cpuRequest = {raw('cpuRequest')!r} is not allowed: "
            f"it must not exceed cpuLimit {raw('cpuLimit')!r}"
        )
    memory_request, memory_limit = memory["memoryRequest"], memory["memoryLimit"]
    if memory_request and memory_limit and memory_request > memory_limit:
        problems.append(
            f"memoryRequest = {raw('memoryRequest')!r} is not allowed: "
            f"it must not exceed memoryLimit {raw('memoryLimit')!r}"
        )
    return KubernetesSettings(
        kubeconfig=raw("kubeconfig") or None,
        context=raw("kubeContext") or None,
        namespace=namespace,
        replicas=_int_in_range(problems, "replicas", raw("replicas"), 1, 50),
        service_type=_one_of(problems, "serviceType", raw("serviceType"), SERVICE_TYPES),
        cpu_request=raw("cpuRequest"),
        cpu_limit=raw("cpuLimit"),
        memory_request=raw("memoryRequest"),
        memory_limit=raw("memoryLimit"),
    )


def load_settings() -> Settings:
    """Read this stack's config (project defaults already merged in by the CLI) and validate it."""
    prefix = f"{PROJECT}:"
    # Every project key the stack sets, so a misspelt key is reported instead of silently ignored.
    present = {key for key in pulumi.runtime.config.CONFIG.get() if key.startswith(prefix)}
    present |= {key for key in pulumi.runtime.config.get_config_env() if key.startswith(prefix)}
    config = pulumi.Config(PROJECT)
    keys = {key.removeprefix(prefix) for key in present} | set(DEFAULTS)
    values = {key: config.get(key) for key in keys}
    secret_keys = {key for key in keys if pulumi.runtime.config.is_config_secret(config.full_key(key))}
    return parse_settings(pulumi.get_stack(), values, secret_keys)


def public_url(docker_settings: DockerSettings) -> str:
    """Where the docker target answers: the published host IP and port, seen from the Docker host's side."""
    host = docker_settings.host_ip
    if host in ("0.0.0.0", "::"):  # noqa: S104 - published on all interfaces: name one that answers
        scheme, _, rest = docker_settings.host.partition("://")
        remote = rest.rsplit("@", 1)[-1].split(":", 1)[0].split("/", 1)[0]
        host = remote if scheme in ("ssh", "tcp") and remote else "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{docker_settings.host_port}"
