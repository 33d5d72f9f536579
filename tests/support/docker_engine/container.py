"""The declared container carried out as the Docker provider does: create, join networks, start, wait."""

from __future__ import annotations

import base64
import io
import json
import tarfile
import time
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors
import docker.types

from tests.support.docker_engine.declared import (
    HARNESS_LABEL,
    Declared,
    FailedToInitialise,
    HarnessError,
    as_int,
    go_duration_ns,
)


def delete_container(client: docker.DockerClient, container_id: str, inputs: dict[str, Any]) -> None:
    """The Docker provider's delete: stop (destroy_grace_seconds, default 0), then force-remove."""
    try:
        container = client.containers.get(container_id)
    except docker.errors.NotFound:
        return
    container.stop(timeout=as_int(inputs.get("destroyGraceSeconds") or 0))
    container.remove(force=True, v=inputs.get("removeVolumes", True))
    try:
        client.api.wait(container_id, condition="removed", timeout=60)
    except docker.errors.NotFound:
        pass


RESTART_POLICIES = {"no", "on-failure", "always", "unless-stopped"}


def upload_archive(uploads: list[Declared]) -> bytes | None:
    """The provider's `upload` blocks as one tar to extract at "/" before the first start (as the Docker
    provider copies them): each file with its content, mode (`permissions`, else 0644 or 0744 with
    `executable`) and numeric owner and group; missing parent directories are made by the engine."""
    if not uploads:
        return None
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for upload in uploads:
            path = upload.require("file")
            if not str(path).startswith("/"):
                raise HarnessError(f"{upload.where}: file {path!r} must be an absolute path")
            content, encoded = upload.get("content"), upload.get("contentBase64")
            for unsupported in ("source", "sourceHash"):
                if upload.get(unsupported) is not None:
                    raise HarnessError(
                        f"{upload.where}: '{unsupported}' is not supported (content, contentBase64)"
                    )
            if (content is None) == (encoded is None):
                raise HarnessError(f"{upload.where}: declare exactly one of content, contentBase64")
            data = str(content).encode() if content is not None else base64.b64decode(encoded)
            permissions = upload.get("permissions")
            mode = (
                int(permissions, 8) if permissions else (0o744 if upload.get("executable", False) else 0o644)
            )
            info = tarfile.TarInfo(str(path).lstrip("/"))
            info.size, info.mode = len(data), mode
            for attribute, key in (("uid", "owner"), ("gid", "group")):
                value = upload.get(key)
                if value is not None:
                    if not str(value).isdigit():
                        raise HarnessError(
                            f"{upload.where}: {key} {value!r} must be numeric (a name needs the host's users)"
                        )
                    setattr(info, attribute, int(value))
            archive.addfile(info, io.BytesIO(data))
            upload.done()
    return buffer.getvalue()


@dataclass
class ContainerSpec:
    """The declared container, translated into the Docker engine's create/start parameters."""

    name: str
    image: str
    create_kwargs: dict[str, Any]
    host_config_kwargs: dict[str, Any]
    networks: list[Declared]
    wait: bool
    wait_timeout: int
    # A tar of the declared `upload` files (secrets: kept out of the repr), extracted at "/" before start.
    uploads: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_declared(cls, resource_name: str, inputs: dict[str, Any]) -> ContainerSpec:
        d = Declared(f"Container {resource_name}", inputs)
        ports: dict[str, tuple[str, int] | None] = {}
        for port in d.blocks("ports"):
            key = f"{as_int(port.require('internal'))}/{port.get('protocol', 'tcp')}"
            external = port.get("external")
            ports[key] = (port.get("ip", "0.0.0.0"), as_int(external)) if external else None  # noqa: S104
            port.done()
        mounts = []
        for m in d.blocks("mounts"):
            kind = m.require("type")
            if kind not in {"bind", "volume"}:
                raise HarnessError(f"{m.where}: mount type {kind!r} is not supported (bind, volume)")
            mounts.append(
                docker.types.Mount(
                    target=m.require("target"),
                    source=m.get("source"),
                    type=kind,
                    read_only=m.get("readOnly", False),
                )
            )
            m.done()
        volumes: dict[str, dict[str, str]] = {}
        for v in d.blocks("volumes"):
            source = v.get("volumeName") or v.get("hostPath")
            if source is None:
                raise HarnessError(f"{v.where}: only volume_name or host_path volumes are supported")
            volumes[source] = {
                "bind": v.require("containerPath"),
                "mode": "ro" if v.get("readOnly") else "rw",
            }
            v.done()
        healthcheck = None
        hc = d.block("healthcheck")
        if hc is not None:
            healthcheck = {
                "test": hc.require("tests"),
                "interval": go_duration_ns(hc.get("interval", "0s")),
                "timeout": go_duration_ns(hc.get("timeout", "0s")),
                "start_period": go_duration_ns(hc.get("startPeriod", "0s")),
                "retries": as_int(hc.get("retries", 0)),
            }
            hc.done()
        restart = d.get("restart", "no")
        if restart not in RESTART_POLICIES:
            raise HarnessError(f"{d.where}: restart {restart!r} is not one of {sorted(RESTART_POLICIES)}")
        for flag, allowed in (("mustRun", True), ("start", True), ("rm", False), ("attach", False)):
            if d.get(flag, allowed) is not allowed:
                raise HarnessError(f"{d.where}: {flag}={not allowed} is not supported")
        d.get("destroyGraceSeconds")  # used by delete_container
        d.get("removeVolumes")  # used by delete_container
        networks = d.blocks("networksAdvanced")
        labels = {b.require("label"): b.require("value") for b in d.blocks("labels")}
        # The provider always sends a log config: its log_driver defaults to json-file.
        log_config = docker.types.LogConfig(type=d.get("logDriver", "json-file"), config=d.get("logOpts", {}))
        # Resource limits (MB, as the provider declares them): what an update changes in place.
        memory, swap = d.get("memory"), d.get("memorySwap")
        limits = {
            "mem_limit": None if memory is None else f"{as_int(memory)}m",
            "memswap_limit": None if swap is None else (-1 if as_int(swap) == -1 else f"{as_int(swap)}m"),
            "cpu_shares": None if d.get("cpuShares") is None else as_int(d.get("cpuShares")),
            "cpuset_cpus": d.get("cpuSet"),
        }
        host_config = {
            **limits,
            "port_bindings": ports,
            "mounts": mounts,
            "binds": volumes,
            "restart_policy": {"Name": restart, "MaximumRetryCount": as_int(d.get("maxRetryCount", 0))},
            "init": d.get("init", False),
            "log_config": log_config,
        }
        create = {
            "environment": d.get("envs", []),
            "ports": [tuple(key.split("/")) for key in ports],  # exposed, as the provider does
            "healthcheck": healthcheck,
            "labels": labels,
            "user": d.get("user"),
            "command": d.get("command"),
            "entrypoint": d.get("entrypoints"),  # the provider names it in the plural
            "working_dir": d.get("workingDir"),
            "hostname": d.get("hostname"),
            "stop_signal": d.get("stopSignal"),
            "stop_timeout": None if d.get("stopTimeout") is None else as_int(d.get("stopTimeout")),
        }
        spec = cls(
            name=d.require("name"),
            image=d.require("image"),
            create_kwargs={k: v for k, v in create.items() if v is not None},
            host_config_kwargs={k: v for k, v in host_config.items() if v is not None},
            networks=networks,
            wait=d.get("wait", False),
            wait_timeout=as_int(d.get("waitTimeout", 60)),
            uploads=upload_archive(d.blocks("uploads")),
        )
        d.done()
        return spec

    def create_and_start(self, client: docker.DockerClient, run_label: str) -> str:
        api = client.api
        labels = {**self.create_kwargs.get("labels", {}), HARNESS_LABEL: run_label}
        created = api.create_container(
            self.image,
            name=self.name,
            detach=True,
            host_config=api.create_host_config(**self.host_config_kwargs),
            **{**self.create_kwargs, "labels": labels},
        )
        container = client.containers.get(created["Id"])
        try:
            if self.uploads is not None and not api.put_archive(container.id, "/", self.uploads):
                raise HarnessError(f"container {self.name}: the engine refused the uploaded files")
            # Like the provider: leave the default bridge, join each declared network.
            if self.networks:
                client.networks.get("bridge").disconnect(container)
                for net in self.networks:
                    client.networks.get(net.require("name")).connect(
                        container, aliases=net.get("aliases"), ipv4_address=net.get("ipv4Address")
                    )
                    net.done()
            container.start()
            if self.wait:
                self.wait_until_healthy(container)
        except Exception as exc:
            raise FailedToInitialise(str(container.id), exc) from exc
        return str(container.id)

    def host_ports(self) -> list[int]:
        """The host ports the container publishes."""
        bindings = self.host_config_kwargs.get("port_bindings", {}).values()
        return [binding[1] for binding in bindings if binding]

    def update_in_place(self, client: docker.DockerClient, container_id: str) -> None:
        """The provider's update (resourceDockerContainerUpdate): only the restart policy and the
        resource limits reach the running container (`docker update`); a changed healthcheck, wait or
        destroy_grace_seconds is only recorded in the state. Nothing is restarted or waited for."""
        host = self.host_config_kwargs
        keys = ("restart_policy", "mem_limit", "memswap_limit", "cpu_shares", "cpuset_cpus")
        client.api.update_container(container_id, **{key: host[key] for key in keys if key in host})

    def wait_until_healthy(self, container: Any) -> None:
        deadline = time.monotonic() + self.wait_timeout
        health: dict[str, Any] = {}
        while time.monotonic() < deadline:
            container.reload()
            health = container.attrs["State"].get("Health") or {}
            if not health:
                raise HarnessError(f"container {self.name}: wait=True but it has no healthcheck")
            if health["Status"] == "healthy":
                return
            time.sleep(0.2)
        logs = container.logs(tail=60).decode(errors="replace")
        probes = json.dumps(health.get("Log", [])[-3:], indent=1)
        raise HarnessError(
            f"container {self.name} not healthy within {self.wait_timeout}s "
            f"(state {container.attrs['State']['Status']}); last health probes:\n{probes}\nlast logs:\n{logs}"
        )
