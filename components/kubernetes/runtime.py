"""What the Deployment and the migration Job share in the cluster: namespace, ConfigMap, Secrets."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import PurePosixPath

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.pod import LOG_ROTATION, PodEnv
from components.outputs import public_outputs
from components.settings import AppEnv, ImageSettings


@dataclass(frozen=True, kw_only=True)
class KubernetesRuntimeArgs:
    namespace: str
    env: AppEnv
    image: ImageSettings
    registry_password: pulumi.Output[str] | None
    labels: dict[str, str]


class KubernetesRuntime(pulumi.ComponentResource):
    """The namespace, the plain env (ConfigMap), the secrets (a Secret the pods mount as files, one per
    secret variable, with `VAR_FILE` in the ConfigMap) and an image pull Secret.

    ConfigMap and Secret are auto-named: a change gives them a new name, the pod template changes
    with it, and the Deployment rolls out the new values (an in-place edit would not restart pods).
    """

    pod_env: PodEnv

    def __init__(
        self, name: str, args: KubernetesRuntimeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("microservice-model:index:KubernetesRuntime", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.namespace, labels=args.labels),
            opts=child,
        )
        namespace_name = namespace.metadata.name
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-env",
            metadata=k8s.meta.v1.ObjectMetaArgs(namespace=namespace_name, labels=args.labels),
            data={**args.env.plain, **args.env.file_env(), **LOG_ROTATION},
            opts=child,
        )
        # Keys are the file names under SECRETS_DIR (SECRET_KEY -> secret_key), so the whole Secret
        # mounts as the files AppEnv.secret_files() names.
        secret = k8s.core.v1.Secret(
            f"{name}-secret-files",
            metadata=k8s.meta.v1.ObjectMetaArgs(namespace=namespace_name, labels=args.labels),
            type="Opaque",
            string_data={
                PurePosixPath(path).name: args.env.secret[variable]
                for variable, path in args.env.secret_files().items()
            },
            # It held the same secrets as env vars under this name: adopt it (its new keys replace it,
            # under a new auto-name, which rolls the pods onto the files).
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(aliases=[pulumi.Alias(name=f"{name}-secret-env")])
            ),
        )
        pull_secret_name = None
        image = args.image
        if image.registry_server and image.registry_username and args.registry_password is not None:
            server, username = image.registry_server, image.registry_username
            pull_secret = k8s.core.v1.Secret(
                f"{name}-pull-secret",
                metadata=k8s.meta.v1.ObjectMetaArgs(namespace=namespace_name, labels=args.labels),
                type="kubernetes.io/dockerconfigjson",
                string_data={
                    ".dockerconfigjson": args.registry_password.apply(
                        lambda password: docker_config_json(server, username, password)
                    )
                },
                opts=child,
            )
            pull_secret_name = pull_secret.metadata.name
        self.pod_env = PodEnv(
            namespace=namespace_name,
            config_map_name=config_map.metadata.name,
            secret_name=secret.metadata.name,
            pull_secret_name=pull_secret_name,
        )
        self.register_outputs(public_outputs(self))


def docker_config_json(server: str, username: str, password: str) -> str:
    """The `.dockerconfigjson` a kubelet reads to pull from a private registry."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {server: {"username": username, "password": password, "auth": auth}}})
