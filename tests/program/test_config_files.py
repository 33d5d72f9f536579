"""Pulumi.yaml, the stack files and docs/pulumi.md agree with what the program reads."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.contract import PROJECT
from components.settings import SECRET_KEYS, SettingsError, defaults, parse_settings
from tests.support.rendering import PULUMI_DOCS, config_reference, documented_reference
from tests.support.stack_config import REPO_ROOT, project_config, stack_file_config

INTEGER_KEYS = {
    "auditRetentionDays",
    "gracefulTimeout",
    "hostPort",
    "healthyTimeout",
    "replicas",
    "preStopSeconds",
}
BOOLEAN_KEYS = {"networkPolicy", "ingress"}
PYTHON_TYPES = {"integer": int, "boolean": bool, "string": str}


def test_project_is_microservice_model_on_python_with_pip_and_the_venv() -> None:
    project = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == PROJECT
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}


class ReadKeys(dict[str, str | None]):
    """Config values that remember which keys the parser asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)


def test_pulumi_yaml_declares_exactly_the_settings_the_program_reads() -> None:
    # Pulumi.yaml is the one list of settings: each declared key has a rule that reads it, and the
    # rules read no key it does not declare.
    values = ReadKeys()
    parse_settings("test", values, set())
    assert values.read == set(project_config())
    assert list(defaults()) == list(project_config())


def test_every_declared_setting_has_type_default_and_description_matching_the_program() -> None:
    for key, spec in project_config().items():
        assert set(spec) == {"type", "default", "description"}, key
        assert spec["description"].strip(), key
        expected_type = "integer" if key in INTEGER_KEYS else "boolean" if key in BOOLEAN_KEYS else "string"
        assert spec["type"] == expected_type, key
        # The CLI rejects a default that does not match the declared type.
        assert type(spec["default"]) is PYTHON_TYPES[expected_type], key
        # The default passes its own rule (a stack that leaves the key out is valid), as the CLI hands it.
        parse_settings("test", {key: defaults()[key]}, set())


def test_secret_settings_are_described_as_secrets_and_default_to_unset() -> None:
    for key in SECRET_KEYS:
        spec = project_config()[key]
        assert spec["description"].startswith("Secret."), key
        assert spec["default"] == "", key


def test_stack_files_use_known_keys_in_the_project_namespace() -> None:
    for stack in ("test", "prod"):
        raw = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
        for key in raw:
            assert key.startswith(f"{PROJECT}:"), key
        assert set(stack_file_config(stack)) <= set(defaults()), stack


def test_stack_files_carry_no_secret_in_plaintext() -> None:
    for stack in ("test", "prod"):
        for key, value in stack_file_config(stack).items():
            if key in SECRET_KEYS:
                assert isinstance(value, dict), f"{stack}: {key} must be a `secure:` value"
                assert set(value) == {"secure"}, f"{stack}: {key} must be a `secure:` value"


def test_test_stack_is_the_old_online_sh_test() -> None:
    assert stack_file_config("test") == {
        "target": "docker",
        "runtimeEnv": "test",
        "hostPort": 8083,
        "logDir": "/tmp/data/test/logs",
    }


def test_prod_stack_targets_kubernetes_with_replicas_and_a_registry() -> None:
    prod = stack_file_config("prod")
    assert prod["target"] == "kubernetes"
    assert prod["runtimeEnv"] == "prod"
    assert prod["replicas"] >= 2
    assert "." in prod["imageRepository"].split("/", 1)[0]


def test_docs_config_reference_matches_pulumi_yaml() -> None:
    documented = documented_reference(PULUMI_DOCS)
    assert documented is not None, "docs/pulumi.md lost its config-reference markers"
    assert documented == config_reference(), "docs/pulumi.md's table is stale: run `make manifests`"


def test_docs_tell_how_to_log_in_set_secrets_and_deploy_each_stack() -> None:
    text = PULUMI_DOCS.read_text()
    for step in (
        "pulumi login --local",
        "PULUMI_CONFIG_PASSPHRASE",
        "pulumi config set -s prod --secret databaseUrl",
        "pulumi up -s test",
        "pulumi up -s prod",
        "pulumi preview",
        "```mermaid",
    ):
        assert step in text, step


def test_docs_show_what_pulumi_up_prints_for_a_bad_stack() -> None:
    # SettingsError is a pulumi.RunError: Pulumi's Python runner logs its message as an error and exits
    # 1, for which the language host adds its own line. docs/pulumi.md must show both, as printed.
    with pytest.raises(SettingsError) as raised:
        parse_settings("staging", {}, set())
    headline, problem = str(raised.value).splitlines()[:2]
    docs = PULUMI_DOCS.read_text()
    shown = docs[docs.index("pulumi:pulumi:Stack (microservice-model-staging):") :]
    shown = shown[: shown.index("```")]
    assert f"    error: {headline}\n" in shown
    assert f"      {problem.strip()[:90]}" in shown
    assert shown.rstrip().endswith("error: program exited with non-zero exit code: 1")
