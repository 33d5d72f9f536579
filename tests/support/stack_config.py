"""The config `pulumi up -s <stack>` hands the program: Pulumi.yaml's defaults, then Pulumi.<stack>.yaml,
then the values a test sets. Used by the mocked program runs and by the live deploy harness alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.contract import PROJECT

REPO_ROOT = Path(__file__).resolve().parents[2]
# A `secretKey` that passes the service's strength rule (random hex, as `openssl rand -hex 32` makes);
# the program refuses repetitive keys such as "k" * 48, as the service does.
TEST_SECRET_KEY = "1343c054bf92b3317f1407097d4cb4bca076cd60e4ef1526dc3464b141b81fa5"


def project_config(project_dir: Path = REPO_ROOT) -> dict[str, dict[str, Any]]:
    """Pulumi.yaml's `config:` block."""
    config: dict[str, dict[str, Any]] = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["config"]
    return config


def stack_file_config(stack: str, project_dir: Path = REPO_ROOT) -> dict[str, Any]:
    """Pulumi.<stack>.yaml's values, keys without the project namespace (none if the stack has no file)."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    raw = (yaml.safe_load(path.read_text()) or {}).get("config") or {} if path.exists() else {}
    return {key.removeprefix(f"{PROJECT}:"): value for key, value in raw.items()}


def config_value(value: Any) -> str:
    """Config values reach the program as strings, like the CLI passes them; objects and lists as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


@dataclass(frozen=True)
class StackConfig:
    values: dict[str, str]  # namespaced keys (`microservice-model:hostPort`) -> strings
    secret_keys: list[str]  # the namespaced keys stored as `secure:` values

    def plain(self) -> dict[str, str]:
        """Un-namespaced keys, as `parse_settings` takes them."""
        return {key.removeprefix(f"{PROJECT}:"): value for key, value in self.values.items()}


def stack_config(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
    project_dir: Path = REPO_ROOT,
) -> StackConfig:
    """Project defaults, the stack file, `secrets` (as `pulumi config set --secret`), then `overrides`.

    A `secure:` value in the stack file needs its plaintext in `secrets`: the test must supply it.
    """
    secrets = dict(secrets or {})
    merged: dict[str, Any] = {key: spec.get("default") for key, spec in project_config(project_dir).items()}
    for key, value in stack_file_config(stack, project_dir).items():
        if isinstance(value, dict) and "secure" in value and key not in secrets:
            raise ValueError(f"Pulumi.{stack}.yaml declares secret {key}: the test must supply its value")
        merged[key] = value
    merged.update(secrets)
    merged.update(overrides or {})
    values = {f"{PROJECT}:{key}": config_value(value) for key, value in merged.items() if value is not None}
    return StackConfig(values=values, secret_keys=sorted(f"{PROJECT}:{key}" for key in secrets))
