"""The validated stack settings: frozen values the components receive (they never read pulumi.Config)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pulumi

from components.contract import PROJECT, PROXY_TRUST_VARIABLES, secret_file_path

Target = Literal["docker", "kubernetes"]
FrontProxy = Literal["nginx", "none"]
TERMINATION_MARGIN_SECONDS = 15  # extra time after gunicorn's graceful timeout before SIGKILL


class SettingsError(pulumi.RunError):
    """One or more stack settings are invalid; the message has one line per bad key.

    A `pulumi.RunError`, so `pulumi up` prints just the message, without a Python traceback.
    """

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"Stack '{stack}' has invalid configuration; nothing was deployed:\n{lines}")


@dataclass(frozen=True, kw_only=True)
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


@dataclass(frozen=True, kw_only=True)
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
    front_proxy: FrontProxy  # "nginx": a front container owns name and port; "none": the app is published
    front_image: str  # the front's image, by digest (frontProxy nginx)


@dataclass(frozen=True, kw_only=True)
class NetworkPolicySettings:
    """Where the app's pods may be reached from and what they may reach (`networkPolicy` on)."""

    client_namespaces: tuple[str, ...]  # besides the app's own namespace
    client_cidrs: tuple[str, ...]
    ingress_controller_namespace: str | None
    metrics_namespaces: tuple[str, ...]
    dns_namespace: str
    database_cidrs: tuple[str, ...]
    database_port: int


@dataclass(frozen=True, kw_only=True)
class IngressSettings:
    class_name: str
    host: str
    tls_secret: str | None


@dataclass(frozen=True, kw_only=True)
class KubernetesSettings:
    kubeconfig: str | None
    context: str | None
    namespace: str
    replicas: int
    service_type: str
    metrics_monitor: str  # "none" or "PodMonitor"
    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str
    # The preStop pause, then gunicorn's graceful drain, both inside the pod's termination grace.
    pre_stop_seconds: int
    termination_grace_seconds: int
    network_policy: NetworkPolicySettings | None  # None: `networkPolicy` off
    ingress: IngressSettings | None  # None: `ingress` off
    # `trustedProxies`: the networks whose forwarding headers the serving pods believe; () for none.
    trusted_proxies: tuple[str, ...]

    def trusted_proxy_env(self) -> dict[str, str]:
        """The serving pods' PROXY_TRUST_VARIABLES, all set to these networks; {} when unset."""
        if not self.trusted_proxies:
            return {}
        return dict.fromkeys(PROXY_TRUST_VARIABLES, ",".join(self.trusted_proxies))


@dataclass(frozen=True, kw_only=True)
class Secrets:
    """Pulumi secrets (None when the stack does not set them)."""

    database_url: pulumi.Output[str] | None
    secret_key: pulumi.Output[str] | None
    registry_password: pulumi.Output[str] | None
    key_encryption_key: pulumi.Output[str] | None = None


@dataclass(frozen=True, kw_only=True)
class AppEnv:
    """The environment the app's containers get: plain and secret values apart (service and migration),
    and the plain values only the serving containers need (`service_only`: not the migration)."""

    plain: dict[str, str]
    secret: dict[str, pulumi.Output[str]]
    service_only: dict[str, str] = field(default_factory=dict)

    def names(self) -> list[str]:
        return [*self.plain, *self.service_only, *self.secret]

    def secret_files(self) -> dict[str, str]:
        """Secret variable -> the file it is mounted as (SECRETS_DIR/<name in lowercase>), on both targets."""
        return {name: secret_file_path(name) for name in self.secret}

    def file_env(self) -> dict[str, str]:
        """`VAR_FILE=path` for each secret: what the service reads instead of the secret in its env."""
        return {f"{name}_FILE": path for name, path in self.secret_files().items()}


@dataclass(frozen=True, kw_only=True)
class Settings:
    stack: str
    target: Target
    runtime_env: str
    log_level: str
    graceful_timeout: int
    audit_retention_days: int
    # `publicUrl`, normalised to scheme://host[:port]; "" when unset (the service builds its discovery
    # URLs from the request's Host then). On kubernetes with an Ingress with TLS: https://<ingressHost>.
    public_url: str
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

    def app_env(self) -> AppEnv:
        plain = {
            "RUNTIME_ENV": self.runtime_env,
            "LOG_LEVEL": self.log_level,
            "GUNICORN_GRACEFUL_TIMEOUT": str(self.graceful_timeout),
            "AUDIT_RETENTION_DAYS": str(self.audit_retention_days),
        }
        secret: dict[str, pulumi.Output[str]] = {}
        if self.secrets.database_url is not None:
            secret["DATABASE_URL"] = self.secrets.database_url
        if self.secrets.secret_key is not None:
            secret["SECRET_KEY"] = self.secrets.secret_key
        if self.secrets.key_encryption_key is not None:
            secret["KEY_ENCRYPTION_KEY"] = self.secrets.key_encryption_key
        # Only the discovery document reads it: the migration does not get it, so changing it re-runs
        # no migration (docker: its command's env; kubernetes: the ConfigMap the Job shares).
        service_only = {"PUBLIC_URL": self.public_url} if self.public_url else {}
        return AppEnv(plain=plain, secret=secret, service_only=service_only)
