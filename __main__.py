"""microservice-model: build the image, migrate the database, deploy the service (`pulumi up -s test|prod`).

Order: image -> migration (new image) -> container / Deployment. See docs/pulumi.md. With `imageRef`
set, nothing is built: that earlier image, pinned by digest, is migrated and deployed (a rollback).
"""

import pulumi
import pulumi_docker as docker
import pulumi_kubernetes as k8s

from components.docker_migration import DockerMigration, DockerMigrationArgs
from components.docker_runtime import DockerRuntime, DockerRuntimeArgs
from components.docker_service import DockerService, DockerServiceArgs
from components.image import ServiceImage, ServiceImageArgs
from components.kubernetes_migration import KubernetesMigration, KubernetesMigrationArgs
from components.kubernetes_pod import PodEnv
from components.kubernetes_runtime import KubernetesRuntime, KubernetesRuntimeArgs
from components.kubernetes_service import KubernetesService, KubernetesServiceArgs
from components.settings import Settings, load_settings, public_url


def docker_engine(settings: Settings) -> docker.Provider:
    """The Docker engine (`dockerHost`) that builds the image and, on the docker target, runs the service."""
    return docker.Provider("docker", host=settings.docker.host)


def build_image(settings: Settings, engine: docker.Provider) -> pulumi.Output[str]:
    """Build app/ (and push it on kubernetes); the new image's digest reference."""
    image = ServiceImage(
        "image",
        ServiceImageArgs(settings.image, settings.secrets.registry_password),
        opts=pulumi.ResourceOptions(providers=[engine]),
    )
    return image.ref


def deploy_docker(settings: Settings, image_ref: pulumi.Output[str], provider: docker.Provider) -> None:
    opts = pulumi.ResourceOptions(providers=[provider])
    env, labels, host = settings.service_env(), settings.labels, settings.docker
    runtime = DockerRuntime("runtime", DockerRuntimeArgs(host, image_ref, labels), opts)
    migration = DockerMigration(
        "migration",
        DockerMigrationArgs(
            host, image_ref, env, runtime.network_name, runtime.volume_name, labels, [runtime.log_dir_ready]
        ),
        opts,
    )
    service = DockerService(
        "service",
        DockerServiceArgs(
            host,
            image_ref,
            env,
            runtime.network_name,
            runtime.volume_name,
            labels,
            stop_timeout=settings.termination_grace_seconds,
            run_after=[migration.command],
        ),
        opts,
    )
    pulumi.export("containerName", service.container_name)
    pulumi.export("url", public_url(host))


def deploy_kubernetes(settings: Settings, image_ref: pulumi.Output[str]) -> None:
    cluster = settings.kubernetes
    provider = k8s.Provider(
        "kubernetes", kubeconfig=cluster.kubeconfig, context=cluster.context, namespace=cluster.namespace
    )
    opts = pulumi.ResourceOptions(providers=[provider])
    labels = settings.labels
    runtime = KubernetesRuntime(
        "runtime",
        KubernetesRuntimeArgs(
            cluster.namespace,
            settings.service_env(),
            settings.image,
            settings.secrets.registry_password,
            labels,
        ),
        opts,
    )
    env = PodEnv(runtime.config_map_name, runtime.secret_name, runtime.pull_secret_name)
    migration = KubernetesMigration(
        "migration", KubernetesMigrationArgs(cluster, runtime.namespace, image_ref, env, labels), opts
    )
    service = KubernetesService(
        "service",
        KubernetesServiceArgs(
            cluster,
            runtime.namespace,
            image_ref,
            env,
            labels,
            termination_grace_seconds=settings.termination_grace_seconds,
            run_after=[migration.job],
        ),
        opts,
    )
    pulumi.export("deploymentName", service.deployment_name)
    pulumi.export("migrationJobName", migration.job_name)
    pulumi.export("url", service.url)


settings = load_settings()  # validates every key before any resource exists
pinned_ref = settings.image.pinned_ref  # `imageRef`: deploy that earlier image as it is, build nothing
if settings.target == "docker":
    engine = docker_engine(settings)
    image_ref = pulumi.Output.from_input(pinned_ref) if pinned_ref else build_image(settings, engine)
    deploy_docker(settings, image_ref, engine)
else:
    # Here Docker only builds, so rolling back to a pinned image needs no Docker engine at all.
    if pinned_ref:
        image_ref = pulumi.Output.from_input(pinned_ref)
    else:
        image_ref = build_image(settings, docker_engine(settings))
    deploy_kubernetes(settings, image_ref)
pulumi.export("imageDigest", image_ref)
pulumi.export("target", settings.target)
pulumi.export("runtimeEnv", settings.runtime_env)
