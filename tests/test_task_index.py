"""The task index (`make help`): every task is listed with its help text and calls a script that exists,
so a newcomer's first command never points at a file that was moved."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
MAKEFILE = REPO_ROOT / "Makefile"


def targets() -> dict[str, str]:
    """Each documented target and its recipe."""
    found: dict[str, str] = {}
    for match in re.finditer(r"^([a-z-]+):.*?## .*\n((?:\t.*\n)*)", MAKEFILE.read_text(), re.MULTILINE):
        found[match.group(1)] = match.group(2)
    return found


def test_make_help_lists_every_task() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.fail("make is not installed: apt-get install -y make")
    result = subprocess.run(
        [make, "help"], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=30
    )
    listed = re.findall(r"^\s+make (\S+)", result.stdout, re.MULTILINE)
    assert listed == list(targets())
    for task in ("up", "test", "lint", "lock", "manifests", "bench"):
        assert task in listed, task


def test_every_task_calls_a_file_that_exists() -> None:
    for name, recipe in targets().items():
        if name == "help":
            continue
        paths = re.findall(r"((?:scripts|bench)/[\w./-]+\.(?:sh|py))", recipe)
        assert paths, f"make {name} calls no script"
        for path in paths:
            assert (REPO_ROOT / path).is_file(), f"make {name}: {path} is missing"


def test_the_readme_commands_are_tasks_too() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    recipes = "".join(targets().values())
    for command in ("bash scripts/up.sh", "bash scripts/test.sh"):
        assert command in readme, command
        assert command in recipes, command
