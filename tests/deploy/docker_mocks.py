"""Pulumi mocks that carry the program's declared resources out on the real local Docker engine.

The Pulumi engine and its provider plugins cannot be downloaded here, so this module stands in for
them, and for nothing else: each `new_resource` call maps the declared inputs onto Docker engine
calls (Docker SDK) or a subprocess, the way the real provider does, and returns what the engine
really answered. A declared input it does not understand fails the run; nothing is faked.

Between runs it keeps a small state file (inputs and outputs per URN) so that a second run of the
program behaves like a second `pulumi up`: unchanged resources are left alone, a changed container
is replaced (old one deleted first when the program asked for delete_before_replace), and a
resource that is no longer declared is deleted. That diff is deliberately simpler than the real
engine's (see docs/live-deploy.md).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.types
from pulumi.runtime.mocks import MockMonitor, MockResourceArgs, Mocks
from pulumi.runtime.rpc import is_rpc_secret, unwrap_rpc_secret

HARNESS_LABEL = "microservice-model.deploy-test"
LOCAL_DOCKER_HOSTS = {"", "unix:///var/run/docker.sock"}


class HarnessError(RuntimeError):
    """A declared resource the harness cannot carry out, or one the engine refused."""


class TaintedContainer(HarnessError):
    """The container was created but did not start or get healthy: the provider keeps its id, and
    the next update replaces it (a "tainted" resource)."""

    def __init__(self, container_id: str, error: Exception) -> None:
        super().__init__(str(error))
        self.container_id = container_id


class Declared:
    """The declared inputs of one resource (or nested block); every key must be read, or it fails."""

    def __init__(self, where: str, values: dict[str, Any]) -> None:
        self.where = where
        self._values = dict(values)
        self._read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self._read.add(key)
        value = self._values.get(key)
        return default if value is None else value

    def require(self, key: str) -> Any:
        value = self.get(key)
        if value is None:
            raise HarnessError(f"{self.where}: '{key}' must be declared")
        return value

    def block(self, key: str) -> Declared | None:
        value = self.get(key)
        return None if value is None else Declared(f"{self.where}.{key}", value)

    def blocks(self, key: str) -> list[Declared]:
        return [Declared(f"{self.where}.{key}[{i}]", v) for i, v in enumerate(self.get(key, []))]

    def done(self) -> None:
        """Fail loudly on any declared input nobody read: the harness would otherwise ignore it."""
        unread = sorted(set(self._values) - self._read)
        if unread:
            raise HarnessError(f"{self.where}: the harness does not understand declared inputs {unread}")


GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
NANOS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def go_duration_ns(text: str) -> int:
    """'1m30s' -> nanoseconds, as the Docker provider parses healthcheck durations (Go syntax)."""
    parts = GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise HarnessError(f"healthcheck duration {text!r} is not a Go duration such as '5s' or '1m30s'")
    return int(sum(float(n) * NANOS[u] for n, u in parts))


def reveal(value: Any) -> Any:
    """Secret inputs reach the mock wrapped ({sig: secret, value: ...}); a provider sees the value."""
    if is_rpc_secret(value):
        return reveal(unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {key: reveal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [reveal(item) for item in value]
    return value


def as_int(value: Any) -> int:
    # Pulumi sends every number as a float over the wire.
    return int(value)


@dataclass
class Event:
    """One step the harness carried out, with wall-clock times so tests can check the real order."""

    urn: str
    type: str
    name: str
    action: str  # create | update | replace[-delete-first|-create-first] | delete | same | failed
    dependencies: list[str]
    started: float
    finished: float = 0.0
    detail: str = ""


@dataclass
class Registration:
    urn: str
    dependencies: list[str]
    delete_before_replace: bool
    retain_on_delete: bool


@dataclass
class DockerEngineMocks(Mocks):
    """new_resource == "create (or update) this resource on the local engine, for real"."""

    run_label: str
    program_dir: Path
    previous_state: dict[str, dict[str, Any]] = field(default_factory=dict)
    build_no_cache: bool = False
    state: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    built_images: list[dict[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _current: threading.local = field(default_factory=threading.local)

    def call(self, args: Any) -> tuple[dict, list[tuple[str, str]] | None]:
        raise HarnessError(f"the program invokes {args.token}; the harness supports no provider functions")

    # The monitor hands over what MockResourceArgs lacks (URN, dependencies, delete_before_replace)
    # on the same thread, just before new_resource.
    def registering(self, registration: Registration) -> None:
        self._current.registration = registration

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        registration: Registration = self._current.registration
        if not args.custom:  # a ComponentResource: nothing to create
            return None, {}
        if args.resource_id:
            raise HarnessError(f"{args.typ} {args.name}: reading or importing resources is not supported")
        handler = self.handlers().get(args.typ)
        if handler is None:
            raise HarnessError(
                f"{args.typ} {args.name}: the harness cannot create this resource type "
                f"(supported: {sorted(self.handlers())})"
            )
        args.inputs = reveal(args.inputs)
        previous = self.previous_state.get(registration.urn)
        event = Event(registration.urn, args.typ, args.name, "create", registration.dependencies, time.time())
        self._current.detail = ""
        try:
            resource_id, outputs, event.action = handler(args, registration, previous)
            event.detail = self._current.detail
        except Exception as exc:
            event.action, event.detail = "failed", str(exc)
            raise
        finally:
            event.finished = time.time()
            with self._lock:
                self.events.append(event)
        with self._lock:
            self.state[registration.urn] = {
                "type": args.typ,
                "id": resource_id,
                "inputs": args.inputs,
                "outputs": outputs,
                "retain_on_delete": registration.retain_on_delete,
            }
        return resource_id, outputs

    def handlers(self) -> dict[str, Callable[..., tuple[str, dict, str]]]:
        return {
            "pulumi:providers:docker": self.docker_provider,
            "pulumi:providers:command": self.command_provider,
            "docker:index/image:Image": self.image,
            "docker:index/network:Network": self.network,
            "docker:index/volume:Volume": self.volume,
            "docker:index/container:Container": self.container,
            "command:local:Command": self.command,
        }

    def client(self) -> docker.DockerClient:
        return docker.from_env(timeout=300)

    # --- providers -------------------------------------------------------------------------------

    def docker_provider(self, args: MockResourceArgs, reg: Registration, prev: Any) -> tuple[str, dict, str]:
        declared = Declared(f"docker provider {args.name}", args.inputs)
        host = declared.get("host", "")
        local = LOCAL_DOCKER_HOSTS | {os.environ.get("DOCKER_HOST", "")}
        if host not in local:
            raise HarnessError(f"docker provider host {host!r}: the harness only drives the local engine")
        declared.get("version")  # the SDK's plugin version pin: nothing to carry out
        declared.done()
        return f"{args.name}-provider", dict(args.inputs), "same" if prev else "create"

    def command_provider(self, args: MockResourceArgs, reg: Registration, prev: Any) -> tuple[str, dict, str]:
        declared = Declared(f"command provider {args.name}", args.inputs)
        declared.get("version")
        declared.done()
        return f"{args.name}-provider", dict(args.inputs), "same" if prev else "create"

    # --- image -----------------------------------------------------------------------------------

    def image(self, args: MockResourceArgs, reg: Registration, prev: Any) -> tuple[str, dict, str]:
        declared = Declared(f"Image {args.name}", args.inputs)
        image_name = declared.require("imageName")
        if declared.get("skipPush") is not True:
            raise HarnessError(f"Image {args.name}: only local images (skip_push=True) can be built here")
        declared.get("buildOnPreview")  # a preview option; this is an update
        build = declared.block("build") or Declared(f"Image {args.name}.build", {})
        context_arg = build.get("context", ".")
        context = self.program_dir / context_arg
        # Both are relative to the program directory, as in pulumi-docker.
        dockerfile = self.program_dir / build.get("dockerfile", f"{context_arg}/Dockerfile")
        buildargs = build.get("args", {})
        target = build.get("target")
        platform = build.get("platform")
        if build.get("builderVersion", "BuilderV1") != "BuilderV1":
            raise HarnessError(f"Image {args.name}: the local engine builds with the legacy builder only")
        build.done()
        declared.done()

        # The Docker SDK wants the Dockerfile relative to the context when it lies inside it.
        dockerfile_arg = str(dockerfile.resolve())
        if dockerfile.resolve().is_relative_to(context.resolve()):
            dockerfile_arg = str(dockerfile.resolve().relative_to(context.resolve()))
        log: list[str] = []
        api = self.client().api
        for chunk in api.build(
            path=str(context),
            dockerfile=dockerfile_arg,
            tag=image_name,
            buildargs=buildargs,
            target=target,
            platform=platform,
            rm=True,
            nocache=self.build_no_cache,
            decode=True,
        ):
            if "stream" in chunk:
                log.append(chunk["stream"])
            if "error" in chunk:
                tail = "".join(log[-30:])
                raise HarnessError(f"Image {args.name}: docker build failed: {chunk['error']}\n{tail}")
        image_id = api.inspect_image(image_name)["Id"]
        with self._lock:
            self.built_images.append({"name": image_name, "id": image_id})
        # As pulumi-docker does for skip_push: repoDigest is the local image ID, the id is the name.
        outputs = {
            **args.inputs,
            "dockerfile": dockerfile_arg,
            "context": context_arg,
            "baseImageName": image_name,
            "imageName": image_name,
            "registryServer": "",
            "platform": platform or "",
            "repoDigest": image_id,
        }
        unchanged = prev is not None and prev["outputs"].get("repoDigest") == image_id
        return image_name, outputs, "same" if unchanged else ("update" if prev else "create")

    # --- network and volume ------------------------------------------------------------------------

    def network(self, args: MockResourceArgs, reg: Registration, prev: Any) -> tuple[str, dict, str]:
        declared = Declared(f"Network {args.name}", args.inputs)
        name = declared.require("name")
        labels = {b.require("label"): b.require("value") for b in declared.blocks("labels")}
        driver = declared.get("driver", "bridge")
        internal = declared.get("internal", False)
        attachable = declared.get("attachable", False)
        options = declared.get("options", {})
        declared.done()
        if prev is not None:
            self.require_unchanged(args, prev)
            return prev["id"], prev["outputs"], "same"
        network = self.client().networks.create(
            name,
            driver=driver,
            internal=internal,
            attachable=attachable,
            options=options,
            labels={**labels, HARNESS_LABEL: self.run_label},
            check_duplicate=True,
        )
        return network.id, {**args.inputs, "name": name, "driver": driver}, "create"

    def volume(self, args: MockResourceArgs, reg: Registration, prev: Any) -> tuple[str, dict, str]:
        declared = Declared(f"Volume {args.name}", args.inputs)
        name = declared.require("name")
        labels = {b.require("label"): b.require("value") for b in declared.blocks("labels")}
        driver = declared.get("driver", "local")
        driver_opts = declared.get("driverOpts", {})
        declared.done()
        if prev is not None:
            self.require_unchanged(args, prev)
            return prev["id"], prev["outputs"], "same"
        client = self.client()
        try:
            client.volumes.get(name)
        except docker.errors.NotFound:
            pass
        else:
            # Docker, and so the provider, would adopt it with its data (how a volume kept by
            # retain_on_delete comes back). The harness refuses: a test must not run on leftover data.
            raise HarnessError(
                f"Volume {args.name}: a volume named {name!r} already exists on the engine (left over "
                "from an earlier run?); the harness only uses volumes it created"
            )
        volume = client.volumes.create(
            name, driver=driver, driver_opts=driver_opts, labels={**labels, HARNESS_LABEL: self.run_label}
        )
        return volume.name, {**args.inputs, "name": volume.name, "driver": driver}, "create"

    @staticmethod
    def require_unchanged(args: MockResourceArgs, prev: dict[str, Any]) -> None:
        if prev["inputs"] != args.inputs:
            raise HarnessError(
                f"{args.typ} {args.name}: changing it in place is not supported by the harness"
            )

    # --- command ---------------------------------------------------------------------------------

    def command(self, args: MockResourceArgs, reg: Registration, prev: Any) -> tuple[str, dict, str]:
        declared = Declared(f"Command {args.name}", args.inputs)
        create = declared.require("create")
        environment = declared.get("environment", {})
        directory = self.program_dir / declared.get("dir", ".")
        interpreter = declared.get("interpreter", ["/bin/sh", "-c"])
        declared.get("triggers")  # only feeds the diff below
        declared.get("addPreviousOutputInEnv")  # only matters for update/delete, which are not declared
        declared.get("logging")  # what the real provider echoes to the console
        declared.done()
        if prev is not None and prev["inputs"] == args.inputs:
            return prev["id"], prev["outputs"], "same"
        # Like pulumi-command: the host environment plus the declared one, run by the interpreter.
        result = subprocess.run(
            [*interpreter, create],
            cwd=directory,
            env={**os.environ, **environment},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise HarnessError(
                f"Command {args.name} failed: exit status {result.returncode}: running {create!r}:\n"
                f"stdout: {result.stdout[-3000:]}\nstderr: {result.stderr[-3000:]}"
            )
        outputs = {**args.inputs, "stdout": result.stdout.rstrip("\n"), "stderr": result.stderr.rstrip("\n")}
        return f"{args.name}-{uuid.uuid4().hex[:8]}", outputs, "replace" if prev else "create"

    # --- container -------------------------------------------------------------------------------

    def container(self, args: MockResourceArgs, reg: Registration, prev: Any) -> tuple[str, dict, str]:
        if prev is not None and prev["inputs"] == args.inputs and not prev.get("tainted"):
            return prev["id"], prev["outputs"], "same"
        spec = ContainerSpec.from_declared(args.name, args.inputs)
        client = self.client()
        started = time.time()
        delete_first = reg.delete_before_replace or (prev is not None and prev.get("tainted"))
        if prev is not None and delete_first:
            delete_container(client, prev["id"], prev["inputs"])
        deleted = time.time()
        try:
            container_id = spec.create_and_start(client, self.run_label)
        except TaintedContainer as tainted:
            with self._lock:
                self.state[reg.urn] = {
                    "type": args.typ,
                    "id": tainted.container_id,
                    "inputs": args.inputs,
                    "outputs": {},
                    "tainted": True,
                }
            raise
        healthy = time.time()
        self._current.detail = f"old container deleted in {deleted - started:.2f}s, "
        self._current.detail += f"new one created, started and healthy in {healthy - deleted:.2f}s"
        if prev is None:
            return container_id, {**args.inputs, "id": container_id}, "create"
        if not reg.delete_before_replace:
            delete_container(client, prev["id"], prev["inputs"])
        order = "delete-first" if reg.delete_before_replace else "create-first"
        return container_id, {**args.inputs, "id": container_id}, f"replace-{order}"

    def delete_undeclared(self) -> None:
        """What `pulumi up` does last: delete what the previous run declared and this one did not."""
        client = self.client()
        for urn, old in self.previous_state.items():
            if urn in self.state or old.get("retain_on_delete"):
                continue
            event = Event(urn, old["type"], urn.rsplit("::", 1)[-1], "delete", [], time.time())
            if old["type"] == "docker:index/container:Container":
                delete_container(client, old["id"], old["inputs"])
            elif old["type"] == "docker:index/network:Network":
                client.networks.get(old["id"]).remove()
            elif old["type"] == "docker:index/volume:Volume":
                client.volumes.get(old["id"]).remove()
            event.finished = time.time()
            self.events.append(event)


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
        host_config = {
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
            "entrypoint": d.get("entrypoint"),
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
            raise TaintedContainer(str(container.id), exc) from exc
        return str(container.id)

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


class OrderingMonitor(MockMonitor):
    """The mock monitor, plus what the real engine guarantees: nothing is created before the
    resources it depends on exist. The Python SDK already awaits every dependency's URN before it
    registers a resource (and a URN only resolves once its registration returned), so the check
    below should never fire; it is here so that the recorded order is a fact, not an assumption."""

    def __init__(self, mocks: DockerEngineMocks) -> None:
        super().__init__(mocks)
        self.engine_mocks = mocks

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        dependencies = sorted(request.dependencies)
        missing = [dep for dep in dependencies if dep not in self.resources]
        if missing and request.type != "pulumi:pulumi:Stack":
            raise HarnessError(f"{urn} was registered before its dependencies {missing} were created")
        self.engine_mocks.registering(
            Registration(urn, dependencies, request.deleteBeforeReplace, request.retainOnDelete)
        )
        return super().RegisterResource(request)
