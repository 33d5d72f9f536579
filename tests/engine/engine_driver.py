"""Run one operation of the real program through the real Pulumi engine (docs/engine.md).

    python tests/engine/engine_driver.py SPEC.json RESULT.json

The CLI built by scripts/engine-tools.sh runs the engine; the Automation API's inline program runs the
project's own `__main__.py` (the Python SDK serves the language runtime in-process, so no language host
is needed). SPEC (written by tests/support/engine.py) names the project copy, the stack, the operation
(preview, up, destroy), the CLI, PULUMI_HOME, the file backend, the config and secrets to set, and
optionally a directory for the Kubernetes provider's `renderYamlToDirectory`. It runs in its own process
so that each operation imports the program afresh, as `pulumi up` does. RESULT (JSON): the steps the
engine reported in order, the change summary, the stack outputs, the seconds it took, the error if any.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import time
from pathlib import Path
from typing import Any

import pulumi
from pulumi import automation as auto

K8S_PROVIDER_TYPE = "pulumi:providers:kubernetes"


def render_to(directory: str) -> pulumi.ResourceTransform:
    """A stack transform that turns on the Kubernetes provider's render mode: it writes manifests to
    `directory` instead of talking to a cluster. The program's provider takes no such setting (a
    finding, docs/engine.md), so the driver adds it, as a stack transform the engine applies."""

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if args.type_ != K8S_PROVIDER_TYPE:
            return None
        props = {**args.props, "renderYamlToDirectory": directory}
        return pulumi.ResourceTransformResult(props=props, opts=args.opts)

    return transform


def inline_program(project_dir: str, render_dir: str | None):
    def program() -> None:
        if render_dir:
            pulumi.runtime.register_resource_transform(render_to(render_dir))
        runpy.run_path(os.path.join(project_dir, "__main__.py"), run_name="__main__")

    return program


def step_of(event: auto.EngineEvent) -> dict[str, Any] | None:
    """One engine step (create, update, replace, delete, same...) once it finished."""
    outputs = event.res_outputs_event
    if outputs is None:
        return None
    meta = outputs.metadata
    return {
        "op": str(getattr(meta.op, "value", meta.op)),
        "type": meta.type,
        "urn": meta.urn,
        "name": meta.urn.split("::")[-1],
    }


def diagnostics_of(event: auto.EngineEvent) -> dict[str, Any] | None:
    diag = event.diagnostic_event
    if diag is None or diag.severity not in ("error", "warning"):
        return None
    return {"severity": diag.severity, "urn": diag.urn, "message": diag.message}


def output_value(value: auto.OutputValue) -> Any:
    return "[secret]" if value.secret else value.value


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    result_path = Path(sys.argv[2])
    project_dir = spec["project_dir"]
    os.chdir(project_dir)  # the program reads its files relative to the project, as under `pulumi up`
    sys.path.insert(0, project_dir)

    env = {
        "PULUMI_HOME": spec["pulumi_home"],
        "PULUMI_BACKEND_URL": spec["backend_url"],
        "PULUMI_CONFIG_PASSPHRASE": spec["passphrase"],
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_DISABLE_REGISTRY_RESOLVE": "true",
    }
    os.environ.update(env)
    command = auto.PulumiCommand(root=spec["pulumi_root"])
    stack = auto.create_or_select_stack(
        stack_name=spec["stack"],
        project_name=spec["project"],
        program=inline_program(project_dir, spec.get("render_dir")),
        opts=auto.LocalWorkspaceOptions(
            work_dir=project_dir,
            pulumi_home=spec["pulumi_home"],
            pulumi_command=command,
            env_vars=env,
            secrets_provider="passphrase",
        ),
    )
    config = {key: auto.ConfigValue(str(value)) for key, value in spec.get("config", {}).items()}
    config.update(
        {key: auto.ConfigValue(str(value), secret=True) for key, value in spec.get("secrets", {}).items()}
    )
    if config:
        stack.set_all_config(config)

    steps: list[dict[str, Any]] = []
    diagnostics: list[dict[str, Any]] = []

    def on_event(event: auto.EngineEvent) -> None:
        step = step_of(event)
        if step:
            steps.append(step)
        diag = diagnostics_of(event)
        if diag:
            diagnostics.append(diag)

    result: dict[str, Any] = {"op": spec["op"], "steps": steps, "diagnostics": diagnostics}
    start = time.monotonic()
    try:
        if spec["op"] == "preview":
            preview = stack.preview(on_event=on_event, color="never")
            result["summary"] = {str(getattr(k, "value", k)): v for k, v in preview.change_summary.items()}
        elif spec["op"] == "up":
            up = stack.up(on_event=on_event, color="never")
            result["summary"] = dict(up.summary.resource_changes or {})
            result["outputs"] = {key: output_value(value) for key, value in up.outputs.items()}
        elif spec["op"] == "destroy":
            destroy = stack.destroy(on_event=on_event, color="never")
            result["summary"] = dict(destroy.summary.resource_changes or {})
        else:
            raise ValueError(f"unknown operation {spec['op']!r}")
        result["error"] = None
    except auto.CommandError as error:
        result["error"] = str(error)
    result["seconds"] = round(time.monotonic() - start, 2)
    result["cli_version"] = command.version and str(command.version)
    result_path.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
