"""The docker target: the service on one Docker engine, as the old `bash online.sh test` ran it.

Order: runtime (network, volume, log dir) -> migration in the new image -> the api container ->
(frontProxy nginx) the front proxy, which owns the old script's name and host port.
"""

from __future__ import annotations

import pulumi
import pulumi_docker

from components.docker.api import DockerApi, DockerApiArgs
from components.docker.front import API_ALIAS, DockerFront, DockerFrontArgs, FrontConfig
from components.docker.migration import DockerMigration, DockerMigrationArgs
from components.docker.runtime import DockerRuntime, DockerRuntimeArgs
from components.settings import DockerSettings, Settings

# gunicorn's worker timeout (GUNICORN_TIMEOUT, 30 s by default) plus a margin: the front waits longer
# for an answer than gunicorn lets a request run.
READ_TIMEOUT_SECONDS = 45


def engine(settings: Settings) -> pulumi_docker.Provider:
    """The Docker engine (`dockerHost`) that builds the image and, on the docker target, runs the app."""
    return pulumi_docker.Provider("docker", host=settings.docker.host)


def deploy(settings: Settings, image_ref: pulumi.Output[str], provider: pulumi_docker.Provider) -> None:
    """Migrate with `image_ref`, then run it (behind the front with frontProxy nginx); exports the
    app container's name, the front's, and the URL the service answers on."""
    opts = pulumi.ResourceOptions(providers=[provider])
    host, env, labels = settings.docker, settings.app_env(), settings.labels
    runtime = DockerRuntime(
        "runtime", DockerRuntimeArgs(settings=host, image_ref=image_ref, labels=labels), opts
    )
    refs = runtime.container_refs
    migration = DockerMigration(
        "migration",
        DockerMigrationArgs(settings=host, image_ref=image_ref, env=env, refs=refs, labels=labels),
        opts,
    )
    api = DockerApi(
        "api",
        DockerApiArgs(
            settings=host,
            image_ref=image_ref,
            env=env,
            refs=refs,
            labels=labels,
            stop_timeout=settings.termination_grace_seconds,
            behind_front=API_ALIAS if host.front_proxy == "nginx" else None,
            run_after=[migration.command],
        ),
        opts,
    )
    pulumi.export("containerName", api.container_name)
    if host.front_proxy == "nginx":
        front = DockerFront(
            "front",
            DockerFrontArgs(
                settings=host,
                refs=refs,
                labels=labels,
                config=FrontConfig(
                    server_name=host.container_name, read_timeout_seconds=READ_TIMEOUT_SECONDS
                ),
                run_after=[api, refs.log_dir_ready],
            ),
            opts,
        )
        pulumi.export("frontContainerName", front.container_name)
    pulumi.export("url", public_url(host))


def public_url(host: DockerSettings) -> str:
    """Where the docker target answers: the published host IP and port, seen from the Docker host's side."""
    address = host.host_ip
    if address in ("0.0.0.0", "::"):  # noqa: S104 - published on all interfaces: name one that answers
        scheme, _, rest = host.host.partition("://")
        remote = rest.rsplit("@", 1)[-1].split(":", 1)[0].split("/", 1)[0]
        address = remote if scheme in ("ssh", "tcp") and remote else "127.0.0.1"
    if ":" in address:
        address = f"[{address}]"
    return f"http://{address}:{host.host_port}"
