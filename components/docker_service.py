"""The service container: the old `docker run -dit -p 8083:8000 --name microservice.model ...`."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.docker_runtime import DATA_MOUNT, LOG_MOUNT
from components.settings import APP_UID, SERVICE_PORT, DockerSettings, ServiceEnv

HEALTHCHECK = ["CMD", "python", "/app/healthcheck.py"]


@dataclass(frozen=True)
class DockerServiceArgs:
    settings: DockerSettings
    image_ref: pulumi.Input[str]
    env: ServiceEnv
    network_name: pulumi.Input[str]
    volume_name: pulumi.Input[str]
    labels: dict[str, str]
    stop_timeout: int
    run_after: list[pulumi.Resource]  # the migration: the container is (re)created only after it succeeded


class DockerService(pulumi.ComponentResource):
    """One container, published on the host port, healthy before `pulumi up` returns.

    The name and host port are fixed, so two containers cannot coexist: a replacement deletes the
    old one first (delete_before_replace). The container depends on the migration (`run_after`),
    so the old container is removed only after the new image's migration succeeded.
    """

    container_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: DockerServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("microservice-model:index:DockerService", name, None, opts)
        settings = args.settings
        envs: list[pulumi.Input[str]] = [f"{key}={value}" for key, value in args.env.plain.items()]
        envs += [pulumi.Output.concat(key, "=", value) for key, value in args.env.secret.items()]
        container = docker.Container(
            f"{name}-container",
            name=settings.container_name,
            image=args.image_ref,
            # The image's own USER is 10001 too; saying it here lets the PR check's policy pack see
            # (at preview, before the image exists) that the container does not run as root.
            user=f"{APP_UID}:{APP_UID}",
            ports=[
                docker.ContainerPortArgs(
                    internal=SERVICE_PORT, external=settings.host_port, ip=settings.host_ip, protocol="tcp"
                )
            ],
            mounts=[
                docker.ContainerMountArgs(type="volume", source=args.volume_name, target=DATA_MOUNT),
                docker.ContainerMountArgs(type="bind", source=settings.log_dir, target=LOG_MOUNT),
            ],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=args.network_name)],
            envs=envs,
            restart=settings.restart_policy,
            # Logs also go to stdout; cap what the engine keeps of them (json-file grows without bound).
            log_driver="json-file",
            log_opts={"max-size": "10m", "max-file": "3"},
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=HEALTHCHECK, interval="10s", timeout="5s", retries=3, start_period="30s"
            ),
            wait=True,
            wait_timeout=settings.healthy_timeout,
            # `docker stop` waits this long for gunicorn to drain before SIGKILL.
            stop_timeout=args.stop_timeout,
            destroy_grace_seconds=args.stop_timeout,
            labels=[
                docker.ContainerLabelArgs(label=k, value=v)
                for k, v in {**args.labels, "app.kubernetes.io/component": "api"}.items()
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.run_after, delete_before_replace=True),
        )
        self.container_name = container.name
        self.register_outputs({"container_name": self.container_name})
