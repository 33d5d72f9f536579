"""keyEncryptionKey (KEY_ENCRYPTION_KEY, which encrypts the token signing keys in the database): a Pulumi
secret like secretKey, checked by the service's own strength rule, reaching both targets as a secret."""

from __future__ import annotations

import pytest

from components.contract import SECRETS_DIR
from components.settings import SettingsError, parse_settings
from tests.support.pulumi_mocks import TEST_SECRETS, is_secret, plain, run_program
from tests.support.resource_types import API_CONTAINER, CONFIG_MAP
from tests.support.stack_config import TEST_SECRET_KEY

KEK = "5e0b8d2f7a4c1e9b3d6f0a8c2e5b7d1f4a9c3e6b0d8f2a5c"


def test_a_weak_key_encryption_key_fails_without_echoing_it() -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings("test", {"keyEncryptionKey": "short-kek"}, {"keyEncryptionKey"})
    [problem] = raised.value.problems
    assert problem.startswith(
        "keyEncryptionKey = <secret, 9 characters> is not allowed: it must be at least 32 characters (got 9)"
    )
    assert "short-kek" not in problem
    assert "pulumi config set --secret keyEncryptionKey" in problem


def test_a_plaintext_key_encryption_key_fails_without_echoing_it() -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings("test", {"keyEncryptionKey": KEK}, set())
    [problem] = raised.value.problems
    assert problem.startswith("keyEncryptionKey = <plaintext, 48 characters> is not allowed")
    assert KEK not in problem


def test_unset_means_no_variable_the_service_then_uses_secret_key() -> None:
    settings = parse_settings("prod", {"secretKey": TEST_SECRET_KEY}, {"secretKey"})
    assert settings.secrets.key_encryption_key is None
    assert "KEY_ENCRYPTION_KEY" not in settings.app_env().names()


def test_it_reaches_the_docker_container_and_migration_as_a_secret_file() -> None:
    run = run_program("test", secrets={"secretKey": TEST_SECRET_KEY, "keyEncryptionKey": KEK})
    container = run.named(API_CONTAINER)  # the test stack has a front container too
    assert "KEY_ENCRYPTION_KEY_FILE=/run/secrets/key_encryption_key" in container.input("envs")
    assert not [env for env in container.input("envs") if KEK in env]
    assert is_secret(container.inputs["uploads"])
    by_file = {upload["file"]: upload["content"] for upload in container.input("uploads")}
    assert by_file["/run/secrets/key_encryption_key"] == KEK
    command = run.named("migration-upgrade")
    assert is_secret(command.inputs["environment"])
    assert command.input("environment")["KEY_ENCRYPTION_KEY"] == KEK
    assert KEK not in command.input("create")
    assert "KEY_ENCRYPTION_KEY_FILE" in command.input("create").split()


def test_it_reaches_the_kubernetes_pods_as_a_secret_file() -> None:
    run = run_program("prod", secrets={**TEST_SECRETS["prod"], "keyEncryptionKey": KEK})
    assert run.one(CONFIG_MAP).input("data")["KEY_ENCRYPTION_KEY_FILE"] == f"{SECRETS_DIR}/key_encryption_key"
    secret = run.named("runtime-secret-files")
    assert is_secret(secret.inputs["stringData"])
    assert plain(secret.inputs["stringData"])["key_encryption_key"] == KEK
