"""Settings from the environment: allowed RUNTIME_ENV values, the prod secret rules, URLs and CORS."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from service import ConfigError, create_app
from service.config import engine_options, load_config
from service.health import MIGRATIONS_DIR

STRONG_KEY = "3f9c1a7e5b2d8046c1e97a3b5d20f4e8a6c3b9d1"


def test_unknown_runtime_env_fails_naming_the_allowed_values() -> None:
    with pytest.raises(
        ConfigError, match=r"RUNTIME_ENV='staging' is not allowed; use one of: dev, test, prod"
    ):
        load_config({"RUNTIME_ENV": "staging"})


def test_flask_refuses_to_start_with_an_unknown_runtime_env(tmp_path: Path) -> None:
    env = {**os.environ, "FLASK_APP": "service", "RUNTIME_ENV": "production", "DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "db", "current"],
        cwd=MIGRATIONS_DIR.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "RUNTIME_ENV='production' is not allowed; use one of: dev, test, prod" in result.stderr


@pytest.mark.parametrize("runtime_env", ["dev", "test"])
def test_dev_and_test_fall_back_to_the_key_file_in_data_dir(runtime_env: str, tmp_path: Path) -> None:
    config = load_config({"RUNTIME_ENV": runtime_env, "DATA_DIR": str(tmp_path)})
    assert config.RUNTIME_ENV == runtime_env
    assert config.SECRET_KEY == (tmp_path / "secret_key").read_text().strip()


def test_runtime_env_defaults_to_dev(tmp_path: Path) -> None:
    assert load_config({"DATA_DIR": str(tmp_path)}).RUNTIME_ENV == "dev"


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (None, "SECRET_KEY is required when RUNTIME_ENV=prod: set SECRET_KEY or SECRET_KEY_FILE"),
        ("", "SECRET_KEY is required when RUNTIME_ENV=prod: set SECRET_KEY or SECRET_KEY_FILE"),
        ("dev-only-secret-key-not-for-production-use", "published in this project's source"),
        ("short-key", r"at least 32 characters \(got 9\)"),
    ],
    ids=["missing", "empty", "old-development-default", "short"],
)
def test_prod_refuses_a_missing_default_or_short_secret(secret: str | None, message: str) -> None:
    environ = {"RUNTIME_ENV": "prod"}
    if secret is not None:
        environ["SECRET_KEY"] = secret
    with pytest.raises(ConfigError, match=message):
        create_app(environ)


def test_prod_starts_with_a_strong_secret(tmp_path: Path) -> None:
    app = create_app({"RUNTIME_ENV": "prod", "SECRET_KEY": STRONG_KEY, "DATA_DIR": str(tmp_path)})
    assert app.config["SECRET_KEY"] == STRONG_KEY
    assert app.config["RUNTIME_ENV"] == "prod"


def test_default_database_is_sqlite_in_data_dir_which_is_created(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    app = create_app({"RUNTIME_ENV": "test", "DATA_DIR": str(data_dir)})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{data_dir / 'service.db'}"
    assert data_dir.is_dir()


@pytest.mark.parametrize(
    "url",
    ["postgresql://u:p@db:5432/svc", "postgres://u:p@db:5432/svc", "postgresql+psycopg://u:p@db:5432/svc"],
)
def test_postgresql_urls_use_the_psycopg3_driver(url: str, tmp_path: Path) -> None:
    config = load_config({"DATABASE_URL": url, "DATA_DIR": str(tmp_path)})
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://u:p@db:5432/svc"


def test_an_unsupported_database_url_fails_naming_the_allowed_schemes(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"DATABASE_URL must be a sqlite:/// or postgresql\+psycopg://"):
        load_config({"DATABASE_URL": "mysql://u:p@db/svc", "DATA_DIR": str(tmp_path)})


@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5"])
def test_a_bad_token_ttl_fails_naming_the_variable(value: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TOKEN_TTL_SECONDS"):
        load_config({"TOKEN_TTL_SECONDS": value, "DATA_DIR": str(tmp_path)})


def test_cors_allows_only_the_configured_origins(tmp_path: Path) -> None:
    app = create_app({"DATA_DIR": str(tmp_path), "CORS_ORIGINS": "https://a.example, https://b.example"})
    client = app.test_client()
    allowed = client.get("/healthz", headers={"Origin": "https://b.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://b.example"
    other = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = client.options(
        "/api/v1/auth/login",
        headers={"Origin": "https://a.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://a.example"


def test_no_cors_headers_without_cors_origins(tmp_path: Path) -> None:
    client = create_app({"DATA_DIR": str(tmp_path)}).test_client()
    response = client.get("/healthz", headers={"Origin": "https://a.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_postgresql_connects_with_a_timeout_and_no_ping_on_every_checkout() -> None:
    """Issue 15: pool_pre_ping would cost a round trip per request; idle connections are pinged
    instead (tests/app/test_dropped_connections.py). SQLite needs neither."""
    postgres = engine_options("postgresql+psycopg://u@127.0.0.1/db", 5)
    assert postgres == {"connect_args": {"connect_timeout": 5}}
    assert engine_options("sqlite:////data/service.db", 5) == {}
