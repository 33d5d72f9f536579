"""The settings Pulumi.yaml declares: the ONE list of keys and defaults.

Pulumi.yaml's `config:` block is the source: the CLI merges its defaults into every stack, `parse`
falls back to the same values (so unit tests and the CLI agree), and docs/pulumi.md's table is
generated from it (scripts/render_manifests.py). Adding a setting means: declare it there, then add
its rule in parse.py (tests/program/test_config_files.py fails until both exist).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

PROJECT_FILE = Path(__file__).resolve().parents[2] / "Pulumi.yaml"


@functools.cache
def declared_settings() -> dict[str, dict[str, Any]]:
    """Pulumi.yaml's `config:` block: key -> {type, default, description}, in file order."""
    config: dict[str, dict[str, Any]] = yaml.safe_load(PROJECT_FILE.read_text())["config"]
    return config


def defaults() -> dict[str, str]:
    """Every key the program reads, with its default as the CLI hands it over: a string."""
    return {key: as_cli_string(spec["default"]) for key, spec in declared_settings().items()}


def as_cli_string(value: Any) -> str:
    """A declared default as the CLI hands it over: booleans as `true`/`false`, the rest as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
