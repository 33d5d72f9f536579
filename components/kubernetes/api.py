"""The app's serving pods on the kubernetes target: Deployment, Service and PodDisruptionBudget."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.contract import (
    API_COMPONENT,
    COMPONENT_LABEL,
    LIVENESS_PATH,
    METRICS_PATH,
    METRICS_PORT,
    PROJECT,
    PUBLIC_PORT,
    READINESS_PATH,
    SERVICE_PORT,
)
from components.kubernetes import pod
from components.outputs import public_outputs
from components.settings import KubernetesSettings

# Before this component was named KubernetesApi (resource "api") it was KubernetesService ("service"):
# the alias lets stacks deployed then adopt their resources instead of replacing them.
PREVIOUS = pulumi.Alias(name="service", type_="microservice-model:index:KubernetesService")

# Server-side apply with force on the objects people edit by hand (`kubectl scale`, `kubectl edit`): the
# next update takes the declared fields back instead of failing on a field-manager conflict. The
# provider's `enablePatchForce` (set in __init__.py) says the same, but only providers with
# pulumi/pulumi-kubernetes#4242 (2026) read it; this annotation is honoured by every 3.x/4.x provider
# and takes precedence (tests/deploy/test_real_cluster.py: 4.25.0 ignores the provider option).
PATCH_FORCE = {"pulumi.com/patchForce": "true"}


SCRAPE_ANNOTATIONS = {
    "prometheus.io/scrape": "true",
    "prometheus.io/port": str(METRICS_PORT),
    "prometheus.io/path": METRICS_PATH,
}


def pre_stop_pause(seconds: int) -> k8s.core.v1.LifecycleArgs | None:
    """The kubelet's own sleep action (GA in Kubernetes 1.34, KEP-3960): no `sleep` binary needed."""
    if seconds == 0:
        return None
    return k8s.core.v1.LifecycleArgs(
        pre_stop=k8s.core.v1.LifecycleHandlerArgs(sleep=k8s.core.v1.SleepActionArgs(seconds=seconds))
    )


@dataclass(frozen=True, kw_only=True)
class KubernetesApiArgs:
    settings: KubernetesSettings
    image_ref: pulumi.Input[str]
    env: pod.PodEnv
    # Plain variables for the serving pods only (AppEnv.service_only), not in the ConfigMap the migration
    # Job shares: set on the container itself, so a change rolls the pods and leaves the Job alone.
    service_env: dict[str, str]
    labels: dict[str, str]
    run_after: list[pulumi.Resource]  # the migration Job: pods of a new image start only after it succeeded


class KubernetesApi(pulumi.ComponentResource):
    """Rolling updates that never drop below the desired replicas, probes that gate traffic."""

    deployment_name: pulumi.Output[str]
    service_name: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(
        self, name: str, args: KubernetesApiArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[PREVIOUS]))
        super().__init__("microservice-model:index:KubernetesApi", name, None, opts)
        selector = {**args.labels, COMPONENT_LABEL: API_COMPONENT}
        namespace = args.env.namespace
        settings = args.settings
        http = k8s.core.v1.HTTPGetActionArgs
        metadata = k8s.meta.v1.ObjectMetaArgs(
            name=PROJECT, namespace=namespace, labels=selector, annotations=PATCH_FORCE
        )
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=metadata,
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=settings.replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_unavailable=0, max_surge=1),
                ),
                revision_history_limit=5,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    # The usual scrape annotations: Prometheus scrapes each pod's metrics port directly.
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=selector, annotations=SCRAPE_ANNOTATIONS),
                    spec=pod.pod_spec(
                        args.env,
                        # The preStop pause plus gunicorn's graceful timeout plus a margin (settings).
                        termination_grace_period_seconds=settings.termination_grace_seconds,
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name="service",
                                image=args.image_ref,
                                ports=[
                                    k8s.core.v1.ContainerPortArgs(name="http", container_port=SERVICE_PORT),
                                    # Named for a ServiceMonitor/PodMonitor; not in the Service below.
                                    k8s.core.v1.ContainerPortArgs(
                                        name="metrics", container_port=METRICS_PORT
                                    ),
                                ],
                                env_from=pod.env_from(args.env),
                                # The image by digest, for /version and service_build_info.
                                env=[
                                    k8s.core.v1.EnvVarArgs(name="IMAGE_REF", value=args.image_ref),
                                    *(
                                        k8s.core.v1.EnvVarArgs(name=key, value=value)
                                        for key, value in args.service_env.items()
                                    ),
                                ],
                                readiness_probe=k8s.core.v1.ProbeArgs(
                                    http_get=http(path=READINESS_PATH, port=SERVICE_PORT),
                                    period_seconds=5,
                                    timeout_seconds=3,
                                    failure_threshold=3,
                                ),
                                liveness_probe=k8s.core.v1.ProbeArgs(
                                    http_get=http(path=LIVENESS_PATH, port=SERVICE_PORT),
                                    initial_delay_seconds=10,
                                    period_seconds=10,
                                    timeout_seconds=5,
                                    failure_threshold=3,
                                ),
                                resources=pod.resources(settings),
                                security_context=pod.container_security(),
                                volume_mounts=pod.volume_mounts(),
                                # A terminating pod is taken out of the endpoints while the kubelet
                                # runs this hook; only after it does gunicorn get SIGTERM and stop
                                # accepting, so nothing still routed to the pod is refused.
                                lifecycle=pre_stop_pause(settings.pre_stop_seconds),
                            )
                        ],
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.run_after),
        )
        # The Service's await waits (up to 10 min) for ready endpoints: only after the rollout, not in
        # parallel with the image push, the Job and the Deployment. The budget follows the pods too.
        after_deployment = pulumi.ResourceOptions(parent=self, depends_on=[deployment])
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=metadata,
            spec=k8s.core.v1.ServiceSpecArgs(
                type=settings.service_type,
                selector=selector,
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name="http", port=PUBLIC_PORT, target_port=SERVICE_PORT, protocol="TCP"
                    )
                ],
            ),
            opts=after_deployment,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=metadata,
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector)
            ),
            opts=after_deployment,
        )
        if settings.metrics_monitor == "PodMonitor":
            # Needs the Prometheus Operator's CRDs; off by default (the annotations serve other setups).
            k8s.apiextensions.CustomResource(
                f"{name}-pod-monitor",
                api_version="monitoring.coreos.com/v1",
                kind="PodMonitor",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=PROJECT, namespace=namespace, labels=selector),
                spec={
                    "selector": {"matchLabels": selector},
                    "podMetricsEndpoints": [{"port": "metrics", "path": METRICS_PATH}],
                },
                opts=after_deployment,
            )
        self.deployment_name = deployment.metadata.name
        self.service_name = service.metadata.name
        self.url = pulumi.Output.concat(
            "http://", service.metadata.name, ".", namespace, f".svc.cluster.local:{PUBLIC_PORT}"
        )
        self.register_outputs(public_outputs(self))
