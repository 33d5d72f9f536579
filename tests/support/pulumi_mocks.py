"""Run the real __main__.py under Pulumi mocks with a stack's real config, and record what the engine sees.

The program runs the way the Python language host runs it (`run_in_stack` + `runpy`), with the config
`stack_config` merges as the CLI would, against a mock monitor that records every RegisterResource
request: type, name, parent, inputs (secrets still marked), dependencies (explicit and implicit URNs),
provider reference, aliases and options such as delete_before_replace, and every component's
registered outputs. Resource outputs come from `ProgramMocks.new_resource`: inputs plus what the real
provider would compute (an image digest, Kubernetes auto-names), deterministic so rendered manifests
are reproducible. (A little over 250 lines: the record, the monitor that fills it and the runner change
together.)
"""

from __future__ import annotations

import hashlib
import json
import os
import runpy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.output import Unknown
from pulumi.runtime import mocks, rpc, settings, stack

from components.contract import PROJECT
from tests.support import resource_types as types
from tests.support.stack_config import REPO_ROOT, TEST_SECRET_KEY, stack_config

# What the tests feed as `pulumi config set --secret` values.
TEST_SECRETS: dict[str, dict[str, str]] = {
    "test": {},
    "prod": {
        "databaseUrl": "postgresql+psycopg://model:db-password-123@db.internal:5432/model",
        "secretKey": TEST_SECRET_KEY,
        "registryPassword": "registry-token-456",
    },
}


def is_unknown(value: Any) -> bool:
    """An input the engine will only know during the update (shown as `[unknown]` in a preview)."""
    value = plain(value)
    return isinstance(value, Unknown) or value == rpc.UNKNOWN


def is_secret(value: Any) -> bool:
    return rpc.is_rpc_secret(value)


def plain(value: Any) -> Any:
    """The value with every secret marker removed (to read what the engine would store)."""
    value = rpc.unwrap_rpc_secret(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


@dataclass
class Registration:
    """One RegisterResource request, as the engine receives it."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    dependencies: list[str]
    provider: str
    delete_before_replace: bool
    replace_on_changes: list[str]
    retain_on_delete: bool
    custom_timeouts: dict[str, str] = field(default_factory=dict)  # create/update/delete ("" if unset)
    outputs: dict[str, Any] = field(default_factory=dict)
    aliases: list[dict[str, str]] = field(default_factory=list)  # alias specs: name, type (as sent)
    output_keys: list[str] | None = None  # the keys a component's register_outputs passed, once called

    @property
    def provider_urn(self) -> str:
        return self.provider.rsplit("::", 1)[0]

    def input(self, key: str) -> Any:
        """An input with secret markers removed."""
        return plain(self.inputs.get(key))


@dataclass
class ProgramRun:
    stack: str
    resources: list[Registration]
    exports: dict[str, Any]

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> Registration:
        found = self.of_type(type_)
        assert len(found) == 1, f"expected one {type_}, got {[r.name for r in found]}"
        return found[0]

    def named(self, name: str) -> Registration:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name}, got {len(found)}"
        return found[0]

    def export(self, key: str) -> Any:
        return plain(self.exports[key])


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class ProgramMocks(pulumi.runtime.Mocks):
    """Outputs a real provider would compute, deterministically.

    With `preview=True` it leaves out what only `pulumi up` computes (the image digest: docker.Image
    builds nothing on preview), so those outputs are unknown to the program, as in `pulumi preview`.
    """

    def __init__(self, preview: bool = False) -> None:
        self.preview = preview

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        outputs = dict(args.inputs)
        if args.typ == types.IMAGE and self.preview:
            pass  # repoDigest stays unknown
        elif args.typ == types.IMAGE:
            image_name = plain(args.inputs["imageName"])
            digest = "sha256:" + _digest(image_name, plain(args.inputs.get("build")))
            if plain(args.inputs.get("skipPush")):
                outputs["repoDigest"] = digest  # a local-only image: its image ID
            else:  # a pushed image: repository@<manifest digest>
                outputs["repoDigest"] = f"{image_name.rsplit(':', 1)[0]}@{digest}"
        elif args.typ.startswith("kubernetes:") and args.custom and "providers" not in args.typ:
            metadata = dict(plain(args.inputs.get("metadata") or {}))
            if "name" not in metadata:
                # Pulumi auto-names: the logical name plus a suffix (random for real; stable here).
                metadata["name"] = f"{args.name}-{_digest(args.typ, args.name)[:8]}"
            outputs["metadata"] = metadata
        elif args.typ == types.COMMAND:
            outputs.update({"stdout": "", "stderr": ""})
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        raise AssertionError(f"the program made an unexpected provider call: {args.token}")


class RecordingMonitor(mocks.MockMonitor):
    """The mock monitor, keeping each registration as the engine would see it."""

    def __init__(self, program_mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(program_mocks)
        self.registrations: list[Registration] = []
        self.stack_urn = ""
        self.stack_outputs: dict[str, Any] = {}

    def RegisterResource(self, request: Any) -> Any:  # the gRPC method's name
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = response.urn
            return response
        self.registrations.append(
            Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                custom=request.custom,
                inputs=rpc.deserialize_properties(request.object),
                dependencies=list(request.dependencies),
                provider=request.provider,
                delete_before_replace=request.deleteBeforeReplace,
                replace_on_changes=list(request.replaceOnChanges),
                retain_on_delete=request.retainOnDelete,
                custom_timeouts={
                    kind: getattr(request.customTimeouts, kind) for kind in ("create", "update", "delete")
                },
                outputs=self.resources[response.urn].state,
                aliases=[{"name": a.spec.name, "type": a.spec.type} for a in request.aliases],
            )
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # the gRPC method's name
        if request.urn == self.stack_urn:
            self.stack_outputs = rpc.deserialize_properties(request.outputs)
        for registration in self.registrations:
            if registration.urn == request.urn:
                # The keys only: deserializing a resource reference would register that resource again.
                registration.output_keys = sorted(request.outputs.fields)
        return super().RegisterResourceOutputs(request)


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def start_mocks(monitor: RecordingMonitor, stack_name: str, preview: bool = False) -> None:
    """Point the Pulumi runtime at `monitor` (what `pulumi.runtime.set_mocks` does, with our monitor)."""
    pulumi.runtime.set_mocks(
        monitor.mocks, project=PROJECT, stack=stack_name, preview=preview, monitor=monitor
    )


def _run(
    stack_name: str,
    overrides: Mapping[str, Any] | None,
    secrets: Mapping[str, str] | None,
    monitor: RecordingMonitor,
    preview: bool = False,
) -> None:
    secrets = TEST_SECRETS.get(stack_name, {}) if secrets is None else secrets
    config = stack_config(stack_name, overrides, secrets)
    pulumi.runtime.set_all_config(config.values, config.secret_keys)
    start_mocks(monitor, stack_name, preview)
    settings.SETTINGS.outputs.clear()
    # set_mocks installs a root stack; the language host's run_in_stack makes its own, as `pulumi up` does.
    settings.set_root_resource(None)  # type: ignore[arg-type]

    def program() -> None:
        runpy.run_path(str(REPO_ROOT / "__main__.py"), run_name="__main__")

    with _cwd(REPO_ROOT):
        pulumi.runtime.sync_await._sync_await(stack.run_in_stack(program))


def run_program(
    stack_name: str,
    overrides: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
    preview: bool = False,
) -> ProgramRun:
    """Run __main__.py for `stack_name` under mocks; raise what the program raises.

    `secrets` are set as `pulumi config set --secret` would (defaults: TEST_SECRETS[stack]);
    `overrides` are plain `pulumi config set` values on top of the stack file; `preview` runs it
    as `pulumi preview` would (the image digest unknown).
    """
    monitor = RecordingMonitor(ProgramMocks(preview))
    _run(stack_name, overrides, secrets, monitor, preview)
    return ProgramRun(stack=stack_name, resources=monitor.registrations, exports=monitor.stack_outputs)


def run_failing_program(
    stack_name: str,
    overrides: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> tuple[BaseException, list[Registration]]:
    """Run a program expected to fail: the error it raised and the resources registered before it."""
    monitor = RecordingMonitor(ProgramMocks())
    try:
        _run(stack_name, overrides, secrets, monitor)
    except Exception as error:  # handed to the test, which checks its type and message
        return error, monitor.registrations
    raise AssertionError(f"the {stack_name} program succeeded, but it was expected to fail")
