"""What the Deployment and the migration Job share in the cluster: namespace, ConfigMap, Secrets."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.settings import ImageSettings, ServiceEnv

# Logs go to an emptyDir per pod (and to stdout, which the cluster's log collector keeps), so they
# are capped: at most (1 + backups) x max bytes x 2 files, well under the volume's size limit.
LOG_ROTATION = {"LOG_MAX_BYTES": str(10 * 1024 * 1024), "LOG_BACKUP_COUNT": "3"}
LOG_VOLUME_LIMIT = "256Mi"


@dataclass(frozen=True)
class KubernetesRuntimeArgs:
    namespace: str
    env: ServiceEnv
    image: ImageSettings
    registry_password: pulumi.Output[str] | None
    labels: dict[str, str]


class KubernetesRuntime(pulumi.ComponentResource):
    """The namespace, the plain env (ConfigMap), the secret env (Secret) and an image pull Secret.

    ConfigMap and Secret are auto-named: a change gives them a new name, the pod template changes
    with it, and the Deployment rolls out the new values (an in-place edit would not restart pods).
    """

    namespace: pulumi.Output[str]
    config_map_name: pulumi.Output[str]
    secret_name: pulumi.Output[str]
    pull_secret_name: pulumi.Output[str] | None

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
        self.namespace = namespace.metadata.name
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-env",
            metadata=k8s.meta.v1.ObjectMetaArgs(namespace=self.namespace, labels=args.labels),
            data={**args.env.plain, **LOG_ROTATION},
            opts=child,
        )
        secret = k8s.core.v1.Secret(
            f"{name}-secret-env",
            metadata=k8s.meta.v1.ObjectMetaArgs(namespace=self.namespace, labels=args.labels),
            type="Opaque",
            string_data=dict(args.env.secret),
            opts=child,
        )
        self.config_map_name = config_map.metadata.name
        self.secret_name = secret.metadata.name
        self.pull_secret_name = None
        image = args.image
        if image.registry_server and image.registry_username and args.registry_password is not None:
            server, username = image.registry_server, image.registry_username
            pull_secret = k8s.core.v1.Secret(
                f"{name}-pull-secret",
                metadata=k8s.meta.v1.ObjectMetaArgs(namespace=self.namespace, labels=args.labels),
                type="kubernetes.io/dockerconfigjson",
                string_data={
                    ".dockerconfigjson": args.registry_password.apply(
                        lambda password: docker_config_json(server, username, password)
                    )
                },
                opts=child,
            )
            self.pull_secret_name = pull_secret.metadata.name
        self.register_outputs({"namespace": self.namespace, "config_map_name": self.config_map_name})


def docker_config_json(server: str, username: str, password: str) -> str:
    """The `.dockerconfigjson` a kubelet reads to pull from a private registry."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {server: {"username": username, "password": password, "auth": auth}}})
