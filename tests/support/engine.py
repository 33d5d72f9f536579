"""The real Pulumi engine built from Go modules (scripts/engine-tools.sh), for tests/engine.

`engine_tools()` finds the binaries where the script built them and fails (never skips) with the
command to run when one is missing or broken. `EngineProject` is a throw-away copy of the program
with its own file backend, PULUMI_HOME and passphrase, so the engine writes stack config and state
there and never into the repository; `run()` drives one operation through tests/engine/engine_driver.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_SCRIPT = REPO_ROOT / "scripts" / "engine-tools.sh"
DRIVER = REPO_ROOT / "tests" / "engine" / "engine_driver.py"
BUILD_HINT = "run `bash scripts/engine-tools.sh` (builds the Pulumi CLI and providers from Go modules)"
PROJECT = "microservice-model"
PASSPHRASE = "engine-tests-passphrase"  # the temp stack's secrets provider; the state is thrown away

# What a copy of the program leaves out: version control, the shared virtualenv, caches, and what the
# program never reads. Anything else is copied, so the copy follows the program's layout as it changes.
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", "*.pyc", ".mypy_cache", ".ruff_cache", ".pytest_cache", "tests", "bench"
)


@dataclass(frozen=True)
class EngineTools:
    pulumi: Path
    pulumi_version: str
    kubernetes_provider: Path
    kubernetes_provider_version: str

    @property
    def pulumi_root(self) -> Path:
        """The directory holding bin/pulumi, as the Automation API's PulumiCommand(root) wants it."""
        return self.pulumi.parent.parent


def tool_paths() -> dict[str, str]:
    """NAME=path lines of `scripts/engine-tools.sh --paths` (one place says where each tool is built)."""
    out = subprocess.run(
        ["bash", str(TOOLS_SCRIPT), "--paths"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def engine_tools() -> EngineTools:
    """The built CLI and Kubernetes provider; fails the test with the build command when one is missing."""
    paths = tool_paths()
    tools = EngineTools(
        pulumi=Path(paths["PULUMI"]),
        pulumi_version=paths["PULUMI_VERSION"],
        kubernetes_provider=Path(paths["KUBERNETES_PROVIDER"]),
        kubernetes_provider_version=paths["KUBERNETES_PROVIDER_VERSION"],
    )
    for binary in (tools.pulumi, tools.kubernetes_provider):
        if not binary.is_file():
            pytest.fail(f"{binary} is missing: {BUILD_HINT}")
    version = subprocess.run(
        [str(tools.pulumi), "version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={"PULUMI_SKIP_UPDATE_CHECK": "true", "PATH": "/usr/bin:/bin"},
    )
    if version.returncode != 0:
        pytest.fail(f"{tools.pulumi} does not run ({version.stderr.strip()}): {BUILD_HINT}")
    return tools


@dataclass
class EngineRun:
    """What one engine operation did (see engine_driver.py)."""

    op: str
    error: str | None
    steps: list[dict[str, Any]]
    summary: dict[str, int]
    outputs: dict[str, Any]
    diagnostics: list[dict[str, Any]]
    seconds: float

    def ops_by_type(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for step in self.steps:
            found.setdefault(step["type"], []).append(step["op"])
        return found


class EngineProject:
    """A copy of the program in a temp dir, with a file backend, PULUMI_HOME and passphrase secrets.

    The copy's Pulumi.yaml points the engine at the built provider (`plugins: providers:`), so no
    plugin is ever downloaded; stack config set by a run lands in the copy's Pulumi.<stack>.yaml.
    """

    def __init__(self, tools: EngineTools, stack: str) -> None:
        self.tools = tools
        self.stack = stack
        self.root = Path(tempfile.mkdtemp(prefix="engine-"))
        self.project_dir = self.root / "project"
        shutil.copytree(REPO_ROOT, self.project_dir, ignore=COPY_IGNORE)
        (self.root / "state").mkdir()
        (self.root / "home").mkdir()
        self.render_dir = self.root / "rendered"
        project_file = self.project_dir / "Pulumi.yaml"
        settings = yaml.safe_load(project_file.read_text())
        settings["plugins"] = {
            "providers": [{"name": "kubernetes", "path": str(tools.kubernetes_provider.parent)}]
        }
        project_file.write_text(yaml.safe_dump(settings, sort_keys=False))

    def run(
        self,
        op: str,
        config: dict[str, Any] | None = None,
        secrets: dict[str, str] | None = None,
        render: bool = True,
        timeout: float = 600,
    ) -> EngineRun:
        spec = {
            "op": op,
            "project": PROJECT,
            "stack": self.stack,
            "project_dir": str(self.project_dir),
            "pulumi_root": str(self.tools.pulumi_root),
            "pulumi_home": str(self.root / "home"),
            "backend_url": f"file://{self.root / 'state'}",
            "passphrase": PASSPHRASE,
            "config": config or {},
            "secrets": secrets or {},
            "render_dir": str(self.render_dir) if render else None,
        }
        spec_path = self.root / f"spec-{op}.json"
        result_path = self.root / f"result-{op}.json"
        spec_path.write_text(json.dumps(spec))
        result_path.unlink(missing_ok=True)
        process = subprocess.run(
            [sys.executable, str(DRIVER), str(spec_path), str(result_path)],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if not result_path.exists():
            raise RuntimeError(
                f"engine_driver.py crashed (exit {process.returncode}):\n{process.stderr[-4000:]}"
            )
        raw = json.loads(result_path.read_text())
        return EngineRun(
            op=raw["op"],
            error=raw["error"],
            steps=raw["steps"],
            summary=raw.get("summary") or {},
            outputs=raw.get("outputs") or {},
            diagnostics=raw["diagnostics"],
            seconds=raw["seconds"],
        )

    def rendered_files(self) -> list[Path]:
        return sorted(self.render_dir.rglob("*.yaml")) if self.render_dir.exists() else []

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
