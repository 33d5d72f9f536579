"""The old `docker exec microservice.model python manage.py db upgrade`, run BEFORE the new container."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import pulumi
import pulumi_command as command

from components.contract import APP_UID, DATA_MOUNT, LOG_MOUNT, MIGRATION_COMMAND, MIGRATION_COMPONENT
from components.docker.runtime import ContainerRefs, label_flags
from components.outputs import public_outputs
from components.settings import AppEnv, DockerSettings

# Writes a tar of the secret files to stdout for `docker cp -` (a tar from stdin keeps the owners in
# its headers; `--archive` would chown to the container's user instead): each argument is
# `<path in the container>=<variable>`, the value read from this process's environment (never argv),
# the file owned by the image's user with mode 0400, as the serving container gets them (api.py).
SECRET_TAR = f"""
import io, os, sys, tarfile
with tarfile.open(fileobj=sys.stdout.buffer, mode="w|") as archive:
    for pair in sys.argv[1:]:
        path, variable = pair.rsplit("=", 1)
        data = os.environ[variable].encode()
        info = tarfile.TarInfo(path.lstrip("/"))
        info.size, info.mode, info.uid, info.gid = len(data), 0o400, {APP_UID}, {APP_UID}
        archive.addfile(info, io.BytesIO(data))
"""


def migration_script(create: list[str], secret_files: dict[str, str]) -> str:
    """`docker create`, the secret files copied in (`docker cp` of a tar from stdin), `docker start -a`:
    the migration's exit status is the script's; the container is removed whatever happens."""
    if not secret_files:
        return shlex.join(["docker", "run", "--rm", *create[2:]])
    pairs = [f"{path}={variable}" for variable, path in secret_files.items()]
    return "\n".join(
        [
            "set -eu",
            f"id=$({shlex.join(create)})",
            "trap 'docker rm --force \"$id\" >/dev/null' EXIT",
            f'python3 -c {shlex.quote(SECRET_TAR)} {shlex.join(pairs)} | docker cp - "$id:/"',
            'docker start --attach "$id"',
        ]
    )


@dataclass(frozen=True, kw_only=True)
class DockerMigrationArgs:
    settings: DockerSettings
    image_ref: pulumi.Input[str]
    env: AppEnv
    refs: ContainerRefs
    labels: dict[str, str]


class DockerMigration(pulumi.ComponentResource):
    """A one-shot `flask db upgrade` in a container of the new image with the app's env, volumes and network.

    It is keyed on the image digest (`triggers`), so every new image runs it again and an unchanged one
    does not (a change to its own env re-runs it too; `flask db upgrade` is idempotent). A non-zero
    exit fails `pulumi up` before the container is replaced, so the running version keeps serving.
    Secrets reach the command through its process environment, never its command line, and the
    container as files (VAR_FILE), as the serving container gets them: created, the files copied in,
    then started. Plain variables are passed as `--env NAME` (copied from the process environment).
    It runs after the log directory is prepared.
    """

    command: command.local.Command

    def __init__(
        self, name: str, args: DockerMigrationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("microservice-model:index:DockerMigration", name, None, opts)
        env_flags: list[str] = []
        file_env = args.env.file_env()
        for variable in [*args.env.plain, *file_env]:
            env_flags += ["--env", variable]
        refs = args.refs
        create = pulumi.Output.all(args.image_ref, refs.network_name, refs.volume_name).apply(
            lambda parts: migration_script(
                [
                    "docker",
                    "create",
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
                ],
                args.env.secret_files(),
            )
        )
        environment: dict[str, pulumi.Input[str]] = {
            "DOCKER_HOST": args.settings.host,
            **args.env.plain,
            **file_env,
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
