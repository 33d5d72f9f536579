"""The old `docker exec microservice.model python manage.py db upgrade`, run BEFORE the new container."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import pulumi
import pulumi_command as command

from components.contract import DATA_MOUNT, LOG_MOUNT, MIGRATION_COMMAND, MIGRATION_COMPONENT
from components.docker.runtime import ContainerRefs, label_flags
from components.outputs import public_outputs
from components.settings import AppEnv, DockerSettings


@dataclass(frozen=True, kw_only=True)
class DockerMigrationArgs:
    settings: DockerSettings
    image_ref: pulumi.Input[str]
    env: AppEnv
    refs: ContainerRefs
    labels: dict[str, str]


class DockerMigration(pulumi.ComponentResource):
    """A one-shot `docker run --rm <new image> flask db upgrade` with the app's env, volumes and network.

    It is keyed on the image digest (`triggers`), so every new image runs it again and an unchanged one
    does not (a change to its own env re-runs it too; `flask db upgrade` is idempotent). A non-zero
    exit fails `pulumi up` before the container is replaced, so the running version keeps serving.
    Secrets reach it through the process environment (`--env NAME` with no value copies the
    variable), never on the command line. It runs after the log directory is prepared.
    """

    command: command.local.Command

    def __init__(
        self, name: str, args: DockerMigrationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("microservice-model:index:DockerMigration", name, None, opts)
        env_flags: list[str] = []
        for variable in args.env.names():
            env_flags += ["--env", variable]
        refs = args.refs
        create = pulumi.Output.all(args.image_ref, refs.network_name, refs.volume_name).apply(
            lambda parts: shlex.join(
                [
                    "docker",
                    "run",
                    "--rm",
                    "--network",
                    parts[1],
                    "--volume",
                    f"{parts[2]}:{DATA_MOUNT}",
                    "--volume",
                    f"{args.settings.log_dir}:{LOG_MOUNT}",
                    *env_flags,
                    *label_flags(args.labels, role=MIGRATION_COMPONENT),
                    parts[0],
                    *MIGRATION_COMMAND,
                ]
            )
        )
        environment: dict[str, pulumi.Input[str]] = {
            "DOCKER_HOST": args.settings.host,
            **args.env.plain,
            **args.env.secret,
        }
        self.command = command.local.Command(
            f"{name}-upgrade",
            create=create,
            environment=environment,
            triggers=[args.image_ref],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[refs.log_dir_ready]),
        )
        self.register_outputs(public_outputs(self))
