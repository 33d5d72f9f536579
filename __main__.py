"""microservice-model: build the image, migrate the database, deploy the service (`pulumi up -s test|prod`).

Order: image -> migration (new image) -> container / Deployment. See docs/pulumi.md.
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


def deploy_docker(settings: Settings, image: ServiceImage, provider: docker.Provider) -> None:
    opts = pulumi.ResourceOptions(providers=[provider])
    env, labels, host = settings.service_env(), settings.labels, settings.docker
    runtime = DockerRuntime("runtime", DockerRuntimeArgs(host, image.ref, labels), opts)
    migration = DockerMigration(
        "migration",
        DockerMigrationArgs(
            host, image.ref, env, runtime.network_name, runtime.volume_name, labels, [runtime.log_dir_ready]
        ),
        opts,
    )
    service = DockerService(
        "service",
        DockerServiceArgs(
            host,
            image.ref,
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


def deploy_kubernetes(settings: Settings, image: ServiceImage) -> None:
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
        "migration", KubernetesMigrationArgs(cluster, runtime.namespace, image.ref, env, labels), opts
    )
    service = KubernetesService(
        "service",
        KubernetesServiceArgs(
            cluster,
            runtime.namespace,
            image.ref,
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
# The Docker engine that builds the image and, on the docker target, runs the service.
docker_provider = docker.Provider("docker", host=settings.docker.host)
image = ServiceImage(
    "image",
    ServiceImageArgs(settings.image, settings.secrets.registry_password),
    opts=pulumi.ResourceOptions(providers=[docker_provider]),
)
pulumi.export("imageDigest", image.ref)
pulumi.export("target", settings.target)
pulumi.export("runtimeEnv", settings.runtime_env)
if settings.target == "docker":
    deploy_docker(settings, image, docker_provider)
else:
    deploy_kubernetes(settings, image)
