"""The old `docker exec microservice.model python manage.py db upgrade`, run BEFORE the new container."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import pulumi
import pulumi_command as command

from components.docker_runtime import DATA_MOUNT, LOG_MOUNT, label_flags
from components.settings import DockerSettings, ServiceEnv

MIGRATION_COMMAND = ["flask", "db", "upgrade"]


@dataclass(frozen=True)
class DockerMigrationArgs:
    settings: DockerSettings
    image_ref: pulumi.Input[str]
    env: ServiceEnv
    network_name: pulumi.Input[str]
    volume_name: pulumi.Input[str]
    labels: dict[str, str]
    run_after: list[pulumi.Resource]  # the log directory preparation


class DockerMigration(pulumi.ComponentResource):
    """A one-shot `docker run --rm <new image> flask db upgrade` with the service's env, volumes and network.

    It is keyed on the image digest (`triggers`), so every new image runs it again and an unchanged one
    does not (a change to its own env re-runs it too; `flask db upgrade` is idempotent). A non-zero
    exit fails `pulumi up` before the container is replaced, so the running version keeps serving.
    Secrets reach it through the process environment (`--env NAME` with no value copies the
    variable), never on the command line.
    """

    command: command.local.Command

    def __init__(
        self, name: str, args: DockerMigrationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("microservice-model:index:DockerMigration", name, None, opts)
        env_flags: list[str] = []
        for variable in args.env.names():
            env_flags += ["--env", variable]
        create = pulumi.Output.all(args.image_ref, args.network_name, args.volume_name).apply(
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
                    *label_flags(args.labels, role="migration"),
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
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.run_after),
        )
        self.register_outputs({"stdout": self.command.stdout})
