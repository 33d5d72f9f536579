"""Run the repository's scripts/*.sh as CI does: from the fixtures, from tests/support and from bench/.

No pytest here (bench/ imports tests.support.images): a failure raises ScriptError, which the fixtures
turn into a test failure.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


class ScriptError(RuntimeError):
    """A script exited non-zero; the message names it, its extra environment and its stderr's end."""


def run_script(name: str, env: Mapping[str, str] | None = None, timeout: float = 900) -> str:
    """Run scripts/<name> (with `env` added to this process's environment); return its last output line."""
    result = subprocess.run(
        ["bash", str(SCRIPTS / name)],
        env={**os.environ, **env} if env else None,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if result.returncode != 0:
        with_env = f" with {dict(env)}" if env else ""
        raise ScriptError(
            f"scripts/{name}{with_env} failed (exit {result.returncode}):\n{result.stderr[-3000:]}"
        )
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""
