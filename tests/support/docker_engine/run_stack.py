"""Run the real Pulumi program (`__main__.py`) once, like `pulumi up -s <stack>`, on the local engine.

    python -m tests.support.docker_engine.run_stack SPEC.json   (StackDeployer.up runs it)

SPEC names the project directory (the repository, or a copy of it), the stack, config overrides,
the values of the stack's secure settings, the run label and the state file of the previous run.
It runs in its own process so that every run imports the program afresh (a redeploy from a copy of
the repository must not see the modules of the first run) and writes RESULT (JSON): the steps
carried out in order, the stack exports, and the error that stopped the program, if any.
"""

from __future__ import annotations

import json
import runpy
import sys
import traceback
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.mocks import set_mocks
from pulumi.runtime.settings import get_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.contract import PROJECT
from tests.support.docker_engine.mocks import DockerEngineMocks, OrderingMonitor
from tests.support.stack_config import stack_config


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
    try:
        config = stack_config(spec["stack"], spec.get("config"), spec.get("secrets"), project_dir)
    except ValueError as missing:  # a `secure:` value the test did not supply
        raise SystemExit(str(missing)) from missing

    # StackDeployer starts this process as Pulumi starts a program: in the project directory, with
    # that directory first on the path (so `components` is the project's, maybe a changed copy).
    assert Path.cwd().resolve() == project_dir, f"run from {project_dir}, not {Path.cwd()}"
    pulumi.runtime.set_all_config(config.values, config.secret_keys)
    mocks = DockerEngineMocks(
        run_label=spec["run_label"],
        program_dir=project_dir,
        previous_state=previous_state,
        build_no_cache=spec.get("build_no_cache", False),
        wait_for_port=spec.get("wait_for_port", True),
    )
    set_mocks(mocks, project=PROJECT, stack=spec["stack"], preview=False, monitor=OrderingMonitor(mocks))

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
