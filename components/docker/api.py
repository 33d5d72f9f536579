"""The app's serving container: the old `docker run -dit -p 8083:8000 --name microservice.model ...`."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.contract import (
    API_COMPONENT,
    APP_UID,
    COMPONENT_LABEL,
    DATA_MOUNT,
    HEALTHCHECK,
    LOG_MOUNT,
    SERVICE_PORT,
)
from components.docker.runtime import ContainerRefs
from components.outputs import public_outputs
from components.settings import AppEnv, DockerSettings

# Before this component was named DockerApi (resource "api") it was DockerService ("service"): the
# alias lets stacks deployed then adopt their resources instead of replacing them.
PREVIOUS = pulumi.Alias(name="service", type_="microservice-model:index:DockerService")

# Every declared change replaces the container, so what runs is always exactly what is declared. The
# Docker provider (Terraform's docker_container) would update `restart`, `healthcheck`, `wait`,
# `wait_timeout` and `destroy_grace_seconds` in place, and its update applies only the restart policy
# and resource limits: a changed healthcheck would never reach the running container. "*" also turns
# a container that failed to become healthy (kept in the state as failed to initialise) into a
# replacement on the next `pulumi up`, where an update would leave it running unhealthy (the engine
# adds "#initerror" to the replace keys only for "*"). The cost: a restart-policy change is a
# replacement too (the same short outage as a new image).
REPLACE_ON_ANY_CHANGE = ["*"]


def secret_uploads(env: AppEnv) -> list[docker.ContainerUploadArgs]:
    """Each secret as a file of the image's user, mode 0400, written before the container first starts.

    The provider copies them in at creation only; REPLACE_ON_ANY_CHANGE makes a changed secret a new
    container, so the running one never holds a stale file.
    """
    return [
        docker.ContainerUploadArgs(
            file=path, content=env.secret[name], owner=str(APP_UID), group=str(APP_UID), permissions="0400"
        )
        for name, path in env.secret_files().items()
    ]


@dataclass(frozen=True, kw_only=True)
class DockerApiArgs:
    settings: DockerSettings
    image_ref: pulumi.Input[str]
    env: AppEnv
    refs: ContainerRefs
    labels: dict[str, str]
    stop_timeout: int
    run_after: list[pulumi.Resource]  # the migration: the container is (re)created only after it succeeded


class DockerApi(pulumi.ComponentResource):
    """One container, published on the host port, healthy before `pulumi up` returns.

    The name and host port are fixed, so two containers cannot coexist: a replacement deletes the
    old one first (delete_before_replace). The container depends on the migration (`run_after`),
    so the old container is removed only after the new image's migration succeeded. Any change, and a
    container left unhealthy by an earlier run, is a replacement (REPLACE_ON_ANY_CHANGE).
    """

    container_name: pulumi.Output[str]

    def __init__(self, name: str, args: DockerApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[PREVIOUS]))
        super().__init__("microservice-model:index:DockerApi", name, None, opts)
        settings = args.settings
        # Secrets are files (uploads below), found through VAR_FILE: none is in the container's env.
        plain = {**args.env.plain, **args.env.file_env()}
        envs: list[pulumi.Input[str]] = [f"{key}={value}" for key, value in plain.items()]
        # The image by digest, for /version and service_build_info. The metrics port (METRICS_PORT)
        # is deliberately not in `ports`: reachable from the container network, not from the host.
        envs.append(pulumi.Output.concat("IMAGE_REF=", args.image_ref))
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
                docker.ContainerMountArgs(type="volume", source=args.refs.volume_name, target=DATA_MOUNT),
                docker.ContainerMountArgs(type="bind", source=settings.log_dir, target=LOG_MOUNT),
            ],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=args.refs.network_name)],
            envs=envs,
            uploads=secret_uploads(args.env),
            restart=settings.restart_policy,
            # Logs also go to stdout; cap what the engine keeps of them (json-file grows without bound).
            log_driver="json-file",
            log_opts={"max-size": "10m", "max-file": "3"},
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=["CMD", *HEALTHCHECK], interval="10s", timeout="5s", retries=3, start_period="30s"
            ),
            wait=True,
            wait_timeout=settings.healthy_timeout,
            # `docker stop` waits this long for gunicorn to drain before SIGKILL.
            stop_timeout=args.stop_timeout,
            destroy_grace_seconds=args.stop_timeout,
            labels=[
                docker.ContainerLabelArgs(label=k, value=v)
                for k, v in {**args.labels, COMPONENT_LABEL: API_COMPONENT}.items()
            ],
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=args.run_after,
                delete_before_replace=True,
                replace_on_changes=REPLACE_ON_ANY_CHANGE,
            ),
        )
        self.container_name = container.name
        self.register_outputs(public_outputs(self))
