"""What the app container and its migration share on the Docker host: network, data volume, log dir."""

from __future__ import annotations

import shlex
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from components.contract import APP_UID, COMPONENT_LABEL, LOG_DIR_COMPONENT, LOG_MOUNT
from components.outputs import public_outputs
from components.settings import DockerSettings


@dataclass(frozen=True, kw_only=True)
class DockerRuntimeArgs:
    settings: DockerSettings
    image_ref: pulumi.Input[str]
    labels: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class ContainerRefs:
    """What every app container on the host (the migration, the api) refers to."""

    network_name: pulumi.Output[str]
    # The private network's subnet, as the engine chose it: where the front's requests come from.
    network_subnet: pulumi.Output[str]
    volume_name: pulumi.Output[str]
    log_dir_ready: pulumi.Resource  # the host log dir handed to the image's user: run after it


class DockerRuntime(pulumi.ComponentResource):
    """A bridge network, the named data volume, and the host log directory owned by the image's user.

    The log directory is a bind mount (the old script's `-v /tmp/data/$env/logs:/app/logs`). Docker
    creates a missing bind source as root, which the non-root service (UID 10001) cannot write, so a
    one-shot root container of the same image creates it and hands it to that UID. It runs through
    Docker, so it works on a remote (ssh://) Docker host too, and again on every `pulumi up`.
    """

    container_refs: ContainerRefs

    def __init__(
        self, name: str, args: DockerRuntimeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("microservice-model:index:DockerRuntime", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.settings
        network = docker.Network(
            f"{name}-network",
            name=settings.network_name,
            driver="bridge",
            labels=[docker.NetworkLabelArgs(label=k, value=v) for k, v in args.labels.items()],
            opts=child,
        )
        volume = docker.Volume(
            f"{name}-data",
            name=settings.volume_name,
            labels=[docker.VolumeLabelArgs(label=k, value=v) for k, v in args.labels.items()],
            # The volume holds the embedded SQLite database: never delete it by accident.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        create = pulumi.Output.from_input(args.image_ref).apply(
            lambda ref: shlex.join(
                [
                    "docker",
                    "run",
                    "--rm",
                    "--network",
                    "none",
                    "--user",
                    "0:0",
                    "--entrypoint",
                    "chown",
                    "--volume",
                    f"{settings.log_dir}:{LOG_MOUNT}",
                    *label_flags(args.labels, role=LOG_DIR_COMPONENT),
                    ref,
                    f"{APP_UID}:{APP_UID}",
                    LOG_MOUNT,
                ]
            )
        )
        log_dir_ready = command.local.Command(
            f"{name}-log-dir",
            create=create,
            environment={"DOCKER_HOST": settings.host},
            # A new value every run: the directory is prepared on every `pulumi up`, not only for a new
            # image. A host dir removed since (reboot, tmp cleaning) would otherwise make the next
            # container create fail ("bind source path does not exist"); chown is idempotent.
            triggers=[args.image_ref, settings.log_dir, uuid.uuid4().hex],
            opts=child,
        )
        self.container_refs = ContainerRefs(
            network_name=network.name,
            network_subnet=network.ipam_configs.apply(first_subnet),
            volume_name=volume.name,
            log_dir_ready=log_dir_ready,
        )
        self.register_outputs(public_outputs(self))


def first_subnet(configs: Sequence[Any] | None) -> str:
    """The subnet of the network's first IPAM config ("" until the engine has said)."""
    for config in configs or []:
        subnet = config.get("subnet") if isinstance(config, dict) else getattr(config, "subnet", None)
        if subnet:
            return str(subnet)
    return ""


def label_flags(labels: dict[str, str], role: str) -> list[str]:
    """`docker run --label` flags for a one-shot container, so it can be found and cleaned up."""
    flags: list[str] = []
    for key, value in {**labels, COMPONENT_LABEL: role}.items():
        flags += ["--label", f"{key}={value}"]
    return flags
