"""The app's serving container: the old `docker run -dit -p 8083:8000 --name microservice.model ...`
(frontProxy: none), or, behind the front (frontProxy: nginx), an unpublished container per image."""

from __future__ import annotations

import hashlib
import json
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
    PROXY_TRUST_VARIABLES,
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
    # The front's alias when a front proxy serves this container (frontProxy: nginx); None: published.
    behind_front: str | None = None
    run_after: list[pulumi.Resource]  # the migration: the container is (re)created only after it succeeded


class DockerApi(pulumi.ComponentResource):
    """One serving container, healthy before `pulumi up` goes on.

    frontProxy none: published on the host port under the fixed name, so two containers cannot
    coexist and a replacement deletes the old one first (delete_before_replace): an outage per deploy.

    frontProxy nginx (`behind_front`): not published, named after a hash of everything it is made of,
    and on the private network under the front's alias. A replacement is the engine's default
    create-before-replace: the new container is created and healthy (the front's DNS lookups find it),
    and the old one is deleted at the end of the update; its `docker stop` lets gunicorn drain.

    The container depends on the migration (`run_after`), so nothing is replaced before the new
    image's migration succeeded. Any change, and a container left unhealthy by an earlier run, is a
    replacement (REPLACE_ON_ANY_CHANGE).
    """

    container_name: pulumi.Output[str]

    def __init__(self, name: str, args: DockerApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[PREVIOUS]))
        super().__init__("microservice-model:index:DockerApi", name, None, opts)
        settings = args.settings
        # Secrets are files (uploads below), found through VAR_FILE: none is in the container's env.
        plain = {**args.env.plain, **args.env.service_only, **args.env.file_env()}
        envs: list[pulumi.Input[str]] = [f"{key}={value}" for key, value in plain.items()]
        # The image by digest, for /version and service_build_info. The metrics port (METRICS_PORT)
        # is deliberately not in `ports`: reachable from the container network, not from the host.
        envs.append(pulumi.Output.concat("IMAGE_REF=", args.image_ref))
        ports: list[docker.ContainerPortArgs] = []
        name_of_container: pulumi.Input[str] = settings.container_name
        if args.behind_front is None:
            ports.append(
                docker.ContainerPortArgs(
                    internal=SERVICE_PORT, external=settings.host_port, ip=settings.host_ip, protocol="tcp"
                )
            )
        else:
            # Believe X-Forwarded-For/-Proto only from the private network, where the front is the
            # only other member: gunicorn for the scheme, the service for the client address.
            for variable in PROXY_TRUST_VARIABLES:
                envs.append(pulumi.Output.concat(f"{variable}=", args.refs.network_subnet))
            name_of_container = unique_name(settings, args, envs)
        container = docker.Container(
            f"{name}-container",
            name=name_of_container,
            image=args.image_ref,
            # The image's own USER is 10001 too; saying it here lets the PR check's policy pack see
            # (at preview, before the image exists) that the container does not run as root.
            user=f"{APP_UID}:{APP_UID}",
            ports=ports,
            mounts=[
                docker.ContainerMountArgs(type="volume", source=args.refs.volume_name, target=DATA_MOUNT),
                docker.ContainerMountArgs(type="bind", source=settings.log_dir, target=LOG_MOUNT),
            ],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(
                    name=args.refs.network_name, aliases=[args.behind_front] if args.behind_front else None
                )
            ],
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
                # Fixed name and port: delete first. Behind the front: create first (the default).
                delete_before_replace=args.behind_front is None,
                replace_on_changes=REPLACE_ON_ANY_CHANGE,
            ),
        )
        self.container_name = container.name
        self.register_outputs(public_outputs(self))


def unique_name(
    settings: DockerSettings, args: DockerApiArgs, envs: list[pulumi.Input[str]]
) -> pulumi.Output[str]:
    """`microservice.model-api-<12 hex>`: a hash of what the container is made of, so every replacement
    gets a new name (old and new run side by side) and an unchanged one keeps its own. Secret values
    enter the hash only; the name itself is not secret."""
    fixed = {
        "restart": settings.restart_policy,
        "healthy_timeout": settings.healthy_timeout,
        "stop_timeout": args.stop_timeout,
        "log_dir": settings.log_dir,
        "labels": args.labels,
        "healthcheck": HEALTHCHECK,
    }
    secrets = [args.env.secret[key] for key in sorted(args.env.secret)]  # the uploaded files' contents
    parts = pulumi.Output.all(args.image_ref, args.refs.network_name, args.refs.volume_name, *envs, *secrets)
    digest = parts.apply(
        lambda values: hashlib.sha256(json.dumps([fixed, values], sort_keys=True).encode()).hexdigest()[:12]
    )
    return pulumi.Output.unsecret(pulumi.Output.concat(settings.container_name, "-api-", digest))
