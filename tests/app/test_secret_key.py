"""Issue 12, rows 1 and 7: no signing key is in the source; a missing key outside prod is a random one
kept in DATA_DIR/secret_key (0600, made once, atomically); prod refuses weak keys and long-lived tokens."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from service import ConfigError, create_app
from service.config import load_config

from tests.support.app import error_of, running_app, service_env

# What app/service/config.py used to sign with outside prod (now refused everywhere).
OLD_DEVELOPMENT_KEY = "dev-only-secret-key-not-for-production-use"
GOOD_KEY = "6b1f0c9e2a7d4835b0e1c6f93a2d7e58"  # 32 hex characters, as `openssl rand -hex 16` makes


def forged_admin_token(key: str) -> dict[str, str]:
    now = datetime.now(UTC)
    claims = {
        "sub": "1",
        "ver": "anything",
        "iss": "microservice-model",
        "aud": "microservice-model",
        "iat": now,
        "exp": now + timedelta(days=3650),
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm='HS256')}"}


def test_a_token_signed_with_the_old_development_key_is_refused(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    """Row 1: the test runtime without SECRET_KEY (as Pulumi.test.yaml deploys it) no longer trusts it."""
    assert app.config["RUNTIME_ENV"] == "test"
    headers = forged_admin_token(OLD_DEVELOPMENT_KEY)
    body = {"username": "intruder", "password": "intruder-pass-1"}
    error_of(client.post("/api/v1/users", json=body, headers=headers), 401)
    error_of(client.post("/api/v1/authorize", json={"permission": "users:create"}, headers=headers), 401)
    users = client.get("/api/v1/users", headers=admin_headers).get_json()["users"]
    assert "intruder" not in [user["username"] for user in users]


def test_without_secret_key_the_key_is_random_private_and_kept_across_restarts(tmp_path: Path) -> None:
    first = load_config({"RUNTIME_ENV": "test", "DATA_DIR": str(tmp_path)}).SECRET_KEY
    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first) == 64
    assert first not in Path(__file__).resolve().parents[2].joinpath("app/service/config.py").read_text()
    again = load_config({"RUNTIME_ENV": "dev", "DATA_DIR": str(tmp_path)}).SECRET_KEY
    assert again == first
    other_dir = tmp_path / "other"
    assert load_config({"RUNTIME_ENV": "test", "DATA_DIR": str(other_dir)}).SECRET_KEY != first


def test_processes_starting_at_once_all_get_the_same_key(tmp_path: Path) -> None:
    """Like gunicorn workers booting together on an empty volume: exactly one key wins."""
    script = (
        "import sys, time; from service.secret_key import key_file_key; from pathlib import Path\n"
        "start = float(sys.argv[2])\n"
        "while time.time() < start: pass\n"
        "print(key_file_key(Path(sys.argv[1])))\n"
    )
    start = str(datetime.now(UTC).timestamp() + 2)
    app_dir = Path(__file__).resolve().parents[2] / "app"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path / "data"), start],
            cwd=app_dir,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    keys = {process.communicate(timeout=60)[0].strip() for process in processes}
    assert all(process.returncode == 0 for process in processes)
    assert len(keys) == 1
    assert keys == {(tmp_path / "data" / "secret_key").read_text().strip()}
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["secret_key"]  # no temporary left


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    load_config({"RUNTIME_ENV": "test", "DATA_DIR": str(tmp_path)})
    os.chmod(tmp_path / "secret_key", 0o644)
    with pytest.raises(ConfigError, match=r"secret_key is readable by others \(mode 644\); `chmod 600"):
        load_config({"RUNTIME_ENV": "test", "DATA_DIR": str(tmp_path)})


def test_an_unwritable_data_dir_without_secret_key_fails_at_start_naming_the_file(tmp_path: Path) -> None:
    missing_parent = tmp_path / "file"
    missing_parent.write_text("not a directory")
    with pytest.raises(ConfigError, match=r"SECRET_KEY is not set and the key file .*/file/secret_key"):
        load_config({"RUNTIME_ENV": "test", "DATA_DIR": str(missing_parent)})


@pytest.mark.parametrize("runtime_env", ["dev", "test", "prod"])
def test_the_old_development_key_is_refused_in_every_runtime(runtime_env: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="published in this project's source"):
        load_config(
            {"RUNTIME_ENV": runtime_env, "SECRET_KEY": OLD_DEVELOPMENT_KEY, "DATA_DIR": str(tmp_path)}
        )


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("a" * 32, r"too repetitive \(1 distinct characters, one piece repeated\)"),
        (" " * 32, r"too repetitive \(1 distinct characters, one piece repeated\)"),
        ("password" * 4, r"too repetitive \(7 distinct characters, one piece repeated\)"),
        ("0123456789" * 4, r"too repetitive \(10 distinct characters, one piece repeated\)"),
        ("aaaaaaaaaaaaaaaaaaaaaaabcdefghij", r"looks like \d+ bits of randomness, at least 85 needed"),
        (GOOD_KEY[:31], r"at least 32 characters \(got 31\)"),
    ],
    ids=["a-times-32", "32-spaces", "password-times-4", "digits-times-4", "low-entropy", "31-chars"],
)
def test_prod_refuses_a_weak_key(key: str, message: str, tmp_path: Path) -> None:
    """Row 7: length alone let these through."""
    with pytest.raises(ConfigError, match=f"SECRET_KEY is too weak: .*{message}"):
        create_app({"RUNTIME_ENV": "prod", "SECRET_KEY": key, "DATA_DIR": str(tmp_path)})


def test_prod_never_makes_a_key_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY is required when RUNTIME_ENV=prod"):
        create_app({"RUNTIME_ENV": "prod", "DATA_DIR": str(tmp_path)})
    assert not (tmp_path / "secret_key").exists()


def test_prod_refuses_a_token_lifetime_over_one_day(tmp_path: Path) -> None:
    """Row 7: a ten-year TOKEN_TTL_SECONDS was accepted."""
    environ = {"RUNTIME_ENV": "prod", "SECRET_KEY": GOOD_KEY, "DATA_DIR": str(tmp_path)}
    with pytest.raises(ConfigError, match=r"TOKEN_TTL_SECONDS=315360000 is over the prod ceiling of 86400"):
        create_app({**environ, "TOKEN_TTL_SECONDS": str(10 * 365 * 24 * 3600)})
    assert create_app({**environ, "TOKEN_TTL_SECONDS": "86400"}).config["TOKEN_TTL_SECONDS"] == 86400


def test_tokens_survive_a_restart_that_reads_the_key_file(
    migrated_database: tuple[Path, str], admin: dict[str, str]
) -> None:
    """Every worker and every restart signs with the same key, so a token keeps working."""
    with running_app(service_env(*migrated_database)) as first:
        token = first.test_client().post("/api/v1/auth/login", json=admin).get_json()["access_token"]
    with running_app(service_env(*migrated_database)) as restarted:
        me = restarted.test_client().get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
