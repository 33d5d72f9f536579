"""Pulumi mocks that carry the program's declared resources out on the real local Docker engine.

The Pulumi engine and its provider plugins cannot be downloaded here, so this module stands in for
them, and for nothing else: each `new_resource` call maps the declared inputs onto Docker engine
calls (Docker SDK) or a subprocess, the way the real provider does, and returns what the engine
really answered. A declared input it does not understand fails the run; nothing is faked.

Between runs it keeps a small state file (inputs and outputs per URN) so that a second run of the
program behaves like a second `pulumi up`: unchanged resources are left alone, a changed container
is replaced (old one deleted first when the program asked for delete_before_replace; otherwise, as
the engine does by default, the new one is created and the old one deleted at the end of the update),
and a resource that is no longer declared is deleted. That diff is deliberately simpler than the real
engine's (see docs/live-deploy.md).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi.runtime.mocks import MockMonitor, MockResourceArgs, Mocks

from tests.support.docker_engine.container import ContainerSpec, delete_container
from tests.support.docker_engine.declared import (
    LOCAL_DOCKER_HOSTS,
    Declared,
    FailedToInitialise,
    HarnessError,
    reveal,
)
from tests.support.docker_engine.diff import container_plan
from tests.support.docker_engine.ports import wait_for_host_port_free
from tests.support.docker_engine.resources import EngineResources
from tests.support.resource_types import (
    COMMAND,
    COMMAND_PROVIDER,
    CONTAINER,
    DOCKER_PROVIDER,
    IMAGE,
    NETWORK,
    VOLUME,
)

PENDING_DELETE = "#pending-delete-"  # state key suffix of a replaced container not deleted yet


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
class RegisterRequest:
    """What the monitor knows of the resource being registered and MockResourceArgs lacks."""

    urn: str
    dependencies: list[str]
    delete_before_replace: bool
    retain_on_delete: bool
    replace_on_changes: list[str] = field(default_factory=list)


@dataclass
class DockerEngineMocks(EngineResources, Mocks):
    """new_resource == "create (or update) this resource on the local engine, for real".

    Images, networks, volumes and commands: resources.py; the container: container.py.
    """

    run_label: str
    program_dir: Path
    previous_state: dict[str, dict[str, Any]] = field(default_factory=dict)
    build_no_cache: bool = False
    wait_for_port: bool = True  # before a container start, wait for its host ports (ports.py)
    state: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    built_images: list[dict[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _current: threading.local = field(default_factory=threading.local)

    def call(self, args: Any) -> tuple[dict, list[tuple[str, str]] | None]:
        raise HarnessError(f"the program invokes {args.token}; the harness supports no provider functions")

    # The monitor hands over what MockResourceArgs lacks (URN, dependencies, delete_before_replace)
    # on the same thread, just before new_resource.
    def registering(self, registration: RegisterRequest) -> None:
        self._current.registration = registration

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        registration: RegisterRequest = self._current.registration
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
            DOCKER_PROVIDER: self.docker_provider,
            COMMAND_PROVIDER: self.command_provider,
            IMAGE: self.image,
            NETWORK: self.network,
            VOLUME: self.volume,
            CONTAINER: self.container,
            COMMAND: self.command,
        }

    def docker_provider(
        self, args: MockResourceArgs, reg: RegisterRequest, prev: Any
    ) -> tuple[str, dict, str]:
        declared = Declared(f"docker provider {args.name}", args.inputs)
        host = declared.get("host", "")
        local = LOCAL_DOCKER_HOSTS | {os.environ.get("DOCKER_HOST", "")}
        if host not in local:
            raise HarnessError(f"docker provider host {host!r}: the harness only drives the local engine")
        declared.get("version")  # the SDK's plugin version pin: nothing to carry out
        declared.done()
        return f"{args.name}-provider", dict(args.inputs), "same" if prev else "create"

    def command_provider(
        self, args: MockResourceArgs, reg: RegisterRequest, prev: Any
    ) -> tuple[str, dict, str]:
        declared = Declared(f"command provider {args.name}", args.inputs)
        declared.get("version")
        declared.done()
        return f"{args.name}-provider", dict(args.inputs), "same" if prev else "create"

    # --- image -----------------------------------------------------------------------------------

    def container(self, args: MockResourceArgs, reg: RegisterRequest, prev: Any) -> tuple[str, dict, str]:
        """What the engine and the Docker provider do with a declared container (see `container_plan`)."""
        spec = ContainerSpec.from_declared(args.name, args.inputs)
        plan = container_plan(prev, args.inputs, reg.replace_on_changes)
        self._current.detail = plan.reason
        if plan.action == "same":
            return prev["id"], prev["outputs"], "same"
        client = self.client()
        if plan.action == "update":
            spec.update_in_place(client, prev["id"])
            return prev["id"], {**args.inputs, "id": prev["id"]}, "update"
        started = time.time()
        if prev is not None and reg.delete_before_replace:
            delete_container(client, prev["id"], prev["inputs"])
        if self.wait_for_port:
            for port in spec.host_ports():
                wait_for_host_port_free(port, own_label=self.run_label, settle=0)
        deleted = time.time()
        try:
            container_id = spec.create_and_start(client, self.run_label)
        except FailedToInitialise as failed:
            # The bridge keeps a partly created container in the state, marked "failed to initialise".
            with self._lock:
                self.state[reg.urn] = {
                    "type": args.typ,
                    "id": failed.container_id,
                    "inputs": args.inputs,
                    "outputs": {**args.inputs, "id": failed.container_id},
                    "init_errors": [str(failed)],
                    "retain_on_delete": reg.retain_on_delete,
                }
                if (
                    prev is not None and not reg.delete_before_replace
                ):  # the old one still runs: keep it known
                    self.state[f"{reg.urn}{PENDING_DELETE}{prev['id'][:12]}"] = {
                        **prev,
                        "retain_on_delete": False,
                    }
            raise
        healthy = time.time()
        self._current.detail += f"; old container deleted in {deleted - started:.2f}s, "
        self._current.detail += f"new one created, started and healthy in {healthy - deleted:.2f}s"
        if prev is None:
            return container_id, {**args.inputs, "id": container_id}, "create"
        if not reg.delete_before_replace:
            # The engine's create-before-replace: the old container is deleted at the end of the update
            # (delete_undeclared), after every other step. Until then it is in the state as pending
            # deletion, so a run that fails first leaves it for the next run to delete, as Pulumi does.
            with self._lock:
                self.state[f"{reg.urn}{PENDING_DELETE}{prev['id'][:12]}"] = {
                    **prev,
                    "retain_on_delete": False,
                }
        order = "delete-first" if reg.delete_before_replace else "create-first"
        return container_id, {**args.inputs, "id": container_id}, f"replace-{order}"

    def delete_undeclared(self) -> None:
        """What `pulumi up` does last: delete the containers replaced create-first during this run (and
        any a failed earlier run left pending), then what the previous run declared and this one did not."""
        client = self.client()
        pending = {urn: old for urn, old in self.state.items() if PENDING_DELETE in urn}
        for urn in pending:
            del self.state[urn]
        undeclared = {urn: old for urn, old in self.previous_state.items() if urn not in self.state}
        for urn, old in {**pending, **undeclared}.items():
            if old.get("retain_on_delete"):
                continue
            event = Event(urn, old["type"], urn.rsplit("::", 1)[-1], "delete", [], time.time())
            if old["type"] == CONTAINER:
                delete_container(client, old["id"], old["inputs"])
            elif old["type"] == NETWORK:
                client.networks.get(old["id"]).remove()
            elif old["type"] == VOLUME:
                client.volumes.get(old["id"]).remove()
            event.finished = time.time()
            self.events.append(event)


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
            RegisterRequest(
                urn,
                dependencies,
                request.deleteBeforeReplace,
                request.retainOnDelete,
                list(request.replaceOnChanges),
            )
        )
        return super().RegisterResource(request)
