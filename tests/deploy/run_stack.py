"""Run the real Pulumi program (`__main__.py`) once, like `pulumi up -s <stack>`, on the local engine.

    python tests/deploy/run_stack.py SPEC.json

SPEC names the project directory (the repository, or a copy of it), the stack, config overrides,
the values of the stack's secure settings, the run label and the state file of the previous run.
It runs in its own process so that every run imports the program afresh (a redeploy from a copy of
the repository must not see the modules of the first run) and writes RESULT (JSON): the steps
carried out in order, the stack exports, and the error that stopped the program, if any.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import traceback
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime.mocks import set_mocks
from pulumi.runtime.settings import get_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

sys.path.insert(0, str(Path(__file__).resolve().parent))
from docker_mocks import DockerEngineMocks, OrderingMonitor


def config_value(value: Any) -> str:
    """Pulumi hands config to the program as strings; objects and lists as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def namespaced(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def stack_config(project_dir: Path, stack: str, overrides: dict[str, Any], secrets: dict[str, str]):
    """What the engine would pass the program: Pulumi.yaml defaults, then Pulumi.<stack>.yaml,
    with each `secure:` value replaced by the test value supplied for it."""
    project_file = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    project = project_file["name"]
    config: dict[str, str] = {}
    for key, declared in (project_file.get("config") or {}).items():
        if isinstance(declared, dict) and "default" in declared:
            config[namespaced(project, key)] = config_value(declared["default"])
        elif not isinstance(declared, dict):
            config[namespaced(project, key)] = config_value(declared)
    stack_file = yaml.safe_load((project_dir / f"Pulumi.{stack}.yaml").read_text()) or {}
    secret_keys = []
    for key, value in (stack_file.get("config") or {}).items():
        key = namespaced(project, key)
        if isinstance(value, dict) and "secure" in value:
            if key not in secrets:
                raise SystemExit(f"Pulumi.{stack}.yaml declares secret {key}: the test must supply its value")
            value = secrets[key]
            secret_keys.append(key)
        config[key] = config_value(value)
    for key, value in secrets.items():
        config[namespaced(project, key)] = value
        secret_keys.append(namespaced(project, key))
    for key, value in overrides.items():
        config[namespaced(project, key)] = config_value(value)
    return project, config, sorted(set(secret_keys))


def resolve_exports() -> dict[str, Any]:
    root = get_root_resource()
    outputs = getattr(root, "outputs", {}) or {}
    return {name: _sync_await(pulumi.Output.from_input(value).future()) for name, value in outputs.items()}


def run_program(program: Path) -> None:
    runpy.run_path(str(program), run_name="__main__")


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    project_dir = Path(spec["project_dir"]).resolve()
    state_path = Path(spec["state_file"])
    previous_state = json.loads(state_path.read_text()) if state_path.exists() else {}
    project, config, secret_keys = stack_config(
        project_dir, spec["stack"], spec.get("config", {}), spec.get("secrets", {})
    )

    # Pulumi runs the program from the project directory with it on sys.path.
    os.chdir(project_dir)
    sys.path.insert(0, str(project_dir))
    pulumi.runtime.set_all_config(config, secret_keys)
    mocks = DockerEngineMocks(
        run_label=spec["run_label"],
        program_dir=project_dir,
        previous_state=previous_state,
        build_no_cache=spec.get("build_no_cache", False),
    )
    set_mocks(mocks, project=project, stack=spec["stack"], preview=False, monitor=OrderingMonitor(mocks))

    error = None
    error_traceback = None
    exports: dict[str, Any] = {}
    try:
        program = project_dir / "__main__.py"
        _sync_await(run_pulumi_func(lambda: run_program(program)))
        exports = resolve_exports()
        mocks.delete_undeclared()
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
        error_traceback = traceback.format_exc()

    # What the engine would keep on a failure: everything it had created so far, plus the old rest.
    state = mocks.state if error is None else {**previous_state, **mocks.state}
    state_path.write_text(json.dumps(state, indent=1, default=str))
    result = {
        "error": error,
        "traceback": error_traceback,
        "exports": exports,
        "events": [event.__dict__ for event in mocks.events],
        "built_images": mocks.built_images,
        "resources": state,
    }
    Path(spec["result_file"]).write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main(sys.argv[1])
