"""The kubernetes target: a Deployment behind a Service, as the old `bash online.sh prod` ran it.

Order: runtime (namespace, ConfigMap, Secrets) -> migration Job with the new image -> the api's
Deployment, Service and PodDisruptionBudget; the network's NetworkPolicy beside them, its optional
Ingress after the Service.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes

from components.kubernetes.api import KubernetesApi, KubernetesApiArgs
from components.kubernetes.migration import KubernetesMigration, KubernetesMigrationArgs
from components.kubernetes.network import KubernetesNetwork, KubernetesNetworkArgs
from components.kubernetes.runtime import KubernetesRuntime, KubernetesRuntimeArgs
from components.settings import Settings


def deploy(settings: Settings, image_ref: pulumi.Output[str]) -> None:
    """Migrate with `image_ref` in a Job, then roll the Deployment; exports names and the in-cluster URL."""
    cluster = settings.kubernetes
    provider = pulumi_kubernetes.Provider(
        "kubernetes",
        kubeconfig=cluster.kubeconfig,
        context=cluster.context,
        namespace=cluster.namespace,
        # Server-side apply with force: the fields this program declares are its own, and an update
        # takes them back from an out-of-band `kubectl scale`/`kubectl edit` instead of failing on a
        # field-manager conflict (docs/operations.md says how to keep such a change: put it in config).
        # Older providers ignore this option: the objects also carry the annotation (api.PATCH_FORCE).
        enable_patch_force=True,
    )
    opts = pulumi.ResourceOptions(providers=[provider])
    labels, app_env = settings.labels, settings.app_env()
    runtime = KubernetesRuntime(
        "runtime",
        KubernetesRuntimeArgs(
            namespace=cluster.namespace,
            env=app_env,
            image=settings.image,
            registry_password=settings.secrets.registry_password,
            labels=labels,
        ),
        opts,
    )
    env = runtime.pod_env
    migration = KubernetesMigration(
        "migration",
        KubernetesMigrationArgs(settings=cluster, image_ref=image_ref, env=env, labels=labels),
        opts,
    )
    api = KubernetesApi(
        "api",
        KubernetesApiArgs(
            settings=cluster,
            image_ref=image_ref,
            env=env,
            service_env={**app_env.service_only, **cluster.trusted_proxy_env()},
            labels=labels,
            run_after=[migration.job],
        ),
        opts,
    )
    KubernetesNetwork(
        "network",
        KubernetesNetworkArgs(
            namespace=env.namespace,
            labels=labels,
            network_policy=cluster.network_policy,
            ingress=cluster.ingress,
            service_name=api.service_name,
        ),
        opts,
    )
    pulumi.export("deploymentName", api.deployment_name)
    pulumi.export("migrationJobName", migration.job_name)
    pulumi.export("url", api.url)
