"""Pod pieces the Deployment and the migration Job share, so both run the image the same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.contract import APP_UID, DATA_MOUNT, LOG_MOUNT, SECRETS_DIR
from components.settings import KubernetesSettings

# Logs go to an emptyDir per pod (and to stdout, which the cluster's log collector keeps), so they
# are capped: at most (1 + backups) x max bytes x 2 files, well under the volume's size limit.
LOG_ROTATION = {"LOG_MAX_BYTES": str(10 * 1024 * 1024), "LOG_BACKUP_COUNT": "3"}
LOG_VOLUME_LIMIT = "256Mi"

# The root filesystem is read-only; these are the only writable paths (all per pod).
WRITABLE_DIRS = {
    "logs": (LOG_MOUNT, LOG_VOLUME_LIMIT),
    "data": (DATA_MOUNT, "64Mi"),
    "tmp": ("/tmp", "64Mi"),  # noqa: S108 - a private emptyDir per pod, not a shared /tmp
}
SECRETS_VOLUME = "secrets"
# Each secret a file of the pod's group (fsGroup 10001, the image's user) readable by owner and group
# only: the kubelet owns secret files by root:fsGroup, so 0440 is the least the app can read.
SECRET_FILE_MODE = 0o440


@dataclass(frozen=True, kw_only=True)
class PodEnv:
    """What every pod of the app takes from the runtime: its namespace, env ConfigMap and Secrets.

    The secrets are files (`secret_name` mounted read-only at SECRETS_DIR), never env vars; the
    ConfigMap holds the `VAR_FILE` variables that point the service at them.
    """

    namespace: pulumi.Output[str]
    config_map_name: pulumi.Output[str]
    secret_name: pulumi.Output[str]
    pull_secret_name: pulumi.Output[str] | None


def pod_spec(env: PodEnv, **fields: Any) -> k8s.core.v1.PodSpecArgs:
    """The pod fields the Deployment and the Job share, plus theirs (`fields`).

    No service-account token: the app never calls the Kubernetes API, so a stolen pod has none to use.
    """
    return k8s.core.v1.PodSpecArgs(
        automount_service_account_token=False,
        security_context=pod_security(),
        image_pull_secrets=image_pull_secrets(env),
        volumes=volumes(env),
        **fields,
    )


def pod_security() -> k8s.core.v1.PodSecurityContextArgs:
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=APP_UID,
        run_as_group=APP_UID,
        fs_group=APP_UID,  # emptyDir volumes become writable by the image's user
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def container_security() -> k8s.core.v1.SecurityContextArgs:
    return k8s.core.v1.SecurityContextArgs(
        run_as_non_root=True,
        run_as_user=APP_UID,
        run_as_group=APP_UID,
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
    )


def resources(settings: KubernetesSettings) -> k8s.core.v1.ResourceRequirementsArgs:
    return k8s.core.v1.ResourceRequirementsArgs(
        requests={"cpu": settings.cpu_request, "memory": settings.memory_request},
        limits={"cpu": settings.cpu_limit, "memory": settings.memory_limit},
    )


def env_from(env: PodEnv) -> list[k8s.core.v1.EnvFromSourceArgs]:
    """The plain env only: secrets are files (volumes), so no secret is in the pod's environment."""
    return [
        k8s.core.v1.EnvFromSourceArgs(
            config_map_ref=k8s.core.v1.ConfigMapEnvSourceArgs(name=env.config_map_name)
        ),
    ]


def volumes(env: PodEnv) -> list[k8s.core.v1.VolumeArgs]:
    writable = [
        k8s.core.v1.VolumeArgs(name=name, empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=limit))
        for name, (_, limit) in WRITABLE_DIRS.items()
    ]
    secrets = k8s.core.v1.VolumeArgs(
        name=SECRETS_VOLUME,
        secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=env.secret_name, default_mode=SECRET_FILE_MODE),
    )
    return [*writable, secrets]


def volume_mounts() -> list[k8s.core.v1.VolumeMountArgs]:
    writable = [
        k8s.core.v1.VolumeMountArgs(name=name, mount_path=path) for name, (path, _) in WRITABLE_DIRS.items()
    ]
    secrets = k8s.core.v1.VolumeMountArgs(name=SECRETS_VOLUME, mount_path=SECRETS_DIR, read_only=True)
    return [*writable, secrets]


def image_pull_secrets(env: PodEnv) -> list[k8s.core.v1.LocalObjectReferenceArgs] | None:
    if env.pull_secret_name is None:
        return None
    return [k8s.core.v1.LocalObjectReferenceArgs(name=env.pull_secret_name)]
