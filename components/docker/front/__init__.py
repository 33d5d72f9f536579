"""The front proxy of the docker target (frontProxy: nginx): the public face of the old script.

An nginx container named microservice.model, published on hostIp:hostPort, in front of the app
containers, which are unpublished and share one alias on the private network. Its configuration is
nginx.conf.template next to this file, rendered here and uploaded into the container at creation.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker

from components.contract import APP_UID, COMPONENT_LABEL, SERVICE_PORT
from components.docker.runtime import ContainerRefs
from components.outputs import public_outputs
from components.settings import DockerSettings

TEMPLATE = Path(__file__).resolve().parent / "nginx.conf.template"
FRONT_COMPONENT = "front"  # COMPONENT_LABEL of the front container
FRONT_PORT = 8080  # nginx inside the front container (unprivileged: it runs as a non-root UID)
CONFIG_PATH = "/etc/nginx/microservice-front.conf"
LOG_MOUNT = "/var/log/front"  # the host log dir, as in the app containers
API_ALIAS = "api"  # every app container's alias on the private network: what the front resolves
RESOLVE_VALID = "1s"  # how long the front keeps Docker DNS's answer for the alias
HEALTH_PATH = "/_front/healthz"
# bash is in every Debian-based nginx image (the official one and the tests' Debian one); no curl needed.
HEALTHCHECK = [
    "CMD",
    "bash",
    "-c",
    f"exec 3<>/dev/tcp/127.0.0.1/{FRONT_PORT} && printf 'GET {HEALTH_PATH} HTTP/1.0\\r\\n\\r\\n' >&3 "
    "&& head -c 12 <&3 | grep -q ' 200'",
]


FRONT_HEALTHY_TIMEOUT = 60  # nginx is up in a second; not healthyTimeout, which would replace it
# What replaces the front: every input the provider cannot update in place (image, config upload, ports,
# ...) and these, which it would only record in the state. Not `restart`: the provider's update applies
# a new restart policy to the running front (`docker update`), so restartPolicy costs no outage here.
REPLACE_ON_CHANGES = ["healthcheck", "wait", "waitTimeout", "destroyGraceSeconds", "stopTimeout"]


class _Template(string.Template):
    delimiter = "@@"  # nginx's own variables start with $


@dataclass(frozen=True, kw_only=True)
class FrontConfig:
    """What the template needs; `render` turns it into nginx.conf."""

    server_name: str
    read_timeout_seconds: int  # gunicorn's worker timeout plus a margin
    worker_processes: str = "auto"
    client_max_body_size: str = "1m"
    connect_timeout: str = "2s"

    def render(self) -> str:
        return _Template(TEMPLATE.read_text()).substitute(
            worker_processes=self.worker_processes,
            log_mount=LOG_MOUNT,
            client_max_body_size=self.client_max_body_size,
            resolve_valid=RESOLVE_VALID,
            connect_timeout=self.connect_timeout,
            read_timeout=f"{self.read_timeout_seconds}s",
            listen_port=FRONT_PORT,
            server_name=self.server_name,
            upstream_host=API_ALIAS,
            upstream_port=SERVICE_PORT,
        )


@dataclass(frozen=True, kw_only=True)
class DockerFrontArgs:
    settings: DockerSettings
    refs: ContainerRefs
    labels: dict[str, str]
    config: FrontConfig
    run_after: list[pulumi.Resource]  # the first app container: the front starts with someone to serve


class DockerFront(pulumi.ComponentResource):
    """The nginx front: fixed name and host port, so a change to its image or config replaces it
    delete-first (a short outage, like the redeploys of frontProxy none); an app redeploy leaves it
    untouched and a restartPolicy change updates it in place."""

    container_name: pulumi.Output[str]

    def __init__(self, name: str, args: DockerFrontArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("microservice-model:index:DockerFront", name, None, opts)
        settings = args.settings
        container = docker.Container(
            f"{name}-container",
            name=settings.container_name,
            image=settings.front_image,
            user=f"{APP_UID}:{APP_UID}",  # writes the host log dir, which belongs to the app's UID
            entrypoints=["nginx"],
            command=["-c", CONFIG_PATH, "-e", "stderr"],
            uploads=[docker.ContainerUploadArgs(file=CONFIG_PATH, content=args.config.render())],
            ports=[
                docker.ContainerPortArgs(
                    internal=FRONT_PORT, external=settings.host_port, ip=settings.host_ip, protocol="tcp"
                )
            ],
            mounts=[docker.ContainerMountArgs(type="bind", source=settings.log_dir, target=LOG_MOUNT)],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=args.refs.network_name)],
            restart=settings.restart_policy,
            log_driver="json-file",
            log_opts={"max-size": "10m", "max-file": "3"},
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=HEALTHCHECK, interval="10s", timeout="5s", retries=3, start_period="10s"
            ),
            wait=True,
            wait_timeout=FRONT_HEALTHY_TIMEOUT,
            # nginx's graceful stop: SIGQUIT lets open requests finish.
            stop_signal="SIGQUIT",
            stop_timeout=10,
            destroy_grace_seconds=10,
            labels=[
                docker.ContainerLabelArgs(label=k, value=v)
                for k, v in {**args.labels, COMPONENT_LABEL: FRONT_COMPONENT}.items()
            ],
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=args.run_after,
                # The fixed name and host port allow one front at a time.
                delete_before_replace=True,
                replace_on_changes=REPLACE_ON_CHANGES,
            ),
        )
        self.container_name = container.name
        self.register_outputs(public_outputs(self))
