"""Run the real __main__.py under Pulumi mocks with a stack's real config, and record what the engine sees.

The Pulumi CLI merges Pulumi.yaml's config defaults with Pulumi.<stack>.yaml and hands the program
strings; `stack_config` does the same. The program then runs the way the Python language host runs
it (`run_in_stack` + `runpy`), against a mock monitor that records every RegisterResource request:
type, name, parent, inputs (secrets still marked), dependencies (explicit and implicit URNs),
provider reference and options such as delete_before_replace. Resource outputs come from
`ProgramMocks.new_resource`: inputs plus what the real provider would compute (an image digest,
Kubernetes auto-names), deterministic so rendered manifests are reproducible.
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
import yaml
from pulumi.output import Unknown
from pulumi.runtime import mocks, rpc, settings, stack

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "microservice-model"
SECRET_MARK = "[secret]"

# What the tests feed as `pulumi config set --secret` values.
TEST_SECRETS: dict[str, dict[str, str]] = {
    "test": {},
    "prod": {
        "databaseUrl": "postgresql+psycopg://model:db-password-123@db.internal:5432/model",
        "secretKey": "k" * 48,
        "registryPassword": "registry-token-456",
    },
}


def project_config() -> dict[str, dict[str, Any]]:
    """Pulumi.yaml's `config:` block."""
    return yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]


def stack_file_config(stack_name: str) -> dict[str, Any]:
    """Pulumi.<stack>.yaml's values, keys without the project namespace (none if the stack has no file)."""
    path = ROOT / f"Pulumi.{stack_name}.yaml"
    raw = yaml.safe_load(path.read_text())["config"] if path.exists() else {}
    prefix = f"{PROJECT}:"
    return {key.removeprefix(prefix): value for key, value in raw.items()}


def _as_config_string(value: Any) -> str:
    """Config values reach the program as strings, like the CLI passes them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def stack_config(stack_name: str, overrides: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Project defaults, then the stack file, then `overrides`: the config `pulumi up -s <stack>` passes."""
    merged: dict[str, Any] = {key: spec.get("default") for key, spec in project_config().items()}
    merged.update(stack_file_config(stack_name))
    merged.update(overrides or {})
    return {
        f"{PROJECT}:{key}": _as_config_string(value) for key, value in merged.items() if value is not None
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


def redacted(value: Any) -> Any:
    """The value with every secret replaced by SECRET_MARK (keeping dict keys), for rendering."""
    if is_secret(value):
        inner = rpc.unwrap_rpc_secret(value)
        if isinstance(inner, dict):
            return {key: SECRET_MARK for key in inner}
        if isinstance(inner, list):
            return [SECRET_MARK for _ in inner]
        return SECRET_MARK
    if isinstance(value, dict):
        return {key: redacted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redacted(item) for item in value]
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
    outputs: dict[str, Any] = field(default_factory=dict)

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
        if args.typ == "docker:index/image:Image" and self.preview:
            pass  # repoDigest stays unknown
        elif args.typ == "docker:index/image:Image":
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
        elif args.typ == "command:local:Command":
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
                outputs=self.resources[response.urn].state,
            )
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # the gRPC method's name
        if request.urn == self.stack_urn:
            self.stack_outputs = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def _run(
    stack_name: str,
    overrides: Mapping[str, Any] | None,
    secrets: Mapping[str, str] | None,
    monitor: RecordingMonitor,
    preview: bool = False,
) -> None:
    secrets = TEST_SECRETS.get(stack_name, {}) if secrets is None else secrets
    config = stack_config(stack_name, {**(overrides or {}), **secrets})
    pulumi.runtime.set_all_config(config, [f"{PROJECT}:{key}" for key in secrets])
    pulumi.runtime.set_mocks(
        monitor.mocks, project=PROJECT, stack=stack_name, preview=preview, monitor=monitor
    )
    settings.SETTINGS.outputs.clear()
    # set_mocks installs a root stack; the language host's run_in_stack makes its own, as `pulumi up` does.
    settings.set_root_resource(None)  # type: ignore[arg-type]

    def program() -> None:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    with _cwd(ROOT):
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


# Kubernetes objects in apply order; dict keys sorted and whole numbers as ints, so renders are stable.
KIND_ORDER = ("Namespace", "ConfigMap", "Secret", "Job", "Deployment", "Service", "PodDisruptionBudget")


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _stable(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_stable(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # protobuf Structs carry every number as a double
    return value


def is_kubernetes_object(registration: Registration) -> bool:
    return registration.type.startswith("kubernetes:") and not registration.type.startswith(
        "kubernetes:index"
    )


def kubernetes_objects(run: ProgramRun) -> list[dict[str, Any]]:
    objects = []
    for registration in run.resources:
        if not is_kubernetes_object(registration):
            continue
        inputs = {key: value for key, value in registration.inputs.items() if key != "metadata"}
        body = _stable(redacted(inputs))
        body["metadata"] = _stable(redacted(registration.outputs["metadata"]))
        ordered = {key: body.pop(key) for key in ("apiVersion", "kind", "metadata")}
        objects.append({**ordered, **body})
    return sorted(objects, key=lambda o: (KIND_ORDER.index(o["kind"]), o["metadata"]["name"]))


def render_manifests(run: ProgramRun) -> str:
    header = (
        f"# Kubernetes objects of the `{run.stack}` stack, as the Pulumi program declares them under mocks.\n"
        "# Generated by `.venv/bin/python scripts/render_manifests.py`; tests/program checks it is current.\n"
        f"# Secrets show as {SECRET_MARK}; the image digest is the mocks' stand-in for the real build.\n"
    )
    return header + yaml.safe_dump_all(kubernetes_objects(run), sort_keys=False, explicit_start=True)


def config_reference() -> str:
    """The config reference table docs/pulumi.md carries, generated from Pulumi.yaml."""
    rows = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    for key, spec in project_config().items():
        default = spec.get("default")
        shown = "(empty)" if default == "" else f"`{default}`"
        rows.append(f"| `{key}` | {spec['type']} | {shown} | {spec['description']} |")
    return "\n".join(rows)
