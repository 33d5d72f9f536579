"""The Flask service on a real database (SQLite or a fresh PostgreSQL one), and the API's error contract."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import flask_migrate
import pytest
from flask import Flask
from service import create_app
from service.extensions import db
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin-password-123"
USER_PASSWORD = "user-password-1"
BACKENDS = ["sqlite", "postgresql"]


@contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database with a unique name; dropped (connections and all) on exit."""
    name = f"svc_test_{uuid.uuid4().hex[:16]}"
    admin_engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin_engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        drop_database(admin_engine, name)
        admin_engine.dispose()


def drop_database(admin_engine: Engine, name: str) -> None:
    """DROP DATABASE, waiting a little for sessions of just-killed processes to end."""
    deadline = time.monotonic() + 15
    while True:
        try:
            with admin_engine.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            return
        except OperationalError as error:
            if "being accessed by other users" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextmanager
def empty_database(backend: str, tmp_dir: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of an empty database on `backend`."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_dir / 'service.db'}"
    else:
        with fresh_postgres_database(request.getfixturevalue("postgres_admin_url")) as url:
            yield url


def service_env(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    return {"RUNTIME_ENV": "test", "DATA_DIR": str(data_dir), "DATABASE_URL": database_url, **extra}


@contextmanager
def running_app(environ: dict[str, str], **overrides: Any) -> Iterator[Flask]:
    app = create_app(environ, **overrides)
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()  # let PostgreSQL drop the database


LoginAs = Callable[[str, str], dict[str, str]]
MakeUser = Callable[..., dict[str, Any]]

# Messages the API answers with, named once because several behaviours share them.
NOT_A_JSON_OBJECT = "request body must be a JSON object sent with Content-Type: application/json"
NOT_A_STRING = "Input should be a valid string"
NAME_RULE = "String should contain only letters, digits, '_', '.', '@' or '-'"


def error_of(response: Any, status: int) -> dict[str, str]:
    """Assert the contract's error shape and status; return the inner error object."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["message"]
    return body["error"]


def migrate(database: tuple[Path, str], command: str = "upgrade", *, revision: str = "head") -> None:
    """`flask db <command> <revision>` on (DATA_DIR, URL): the same env.py and scripts, in process,
    without paying a subprocess start each time."""
    with running_app(service_env(*database)) as app, app.app_context():
        getattr(flask_migrate, command)(revision=revision)


def sign(app: Flask, claims: dict[str, Any]) -> str:
    """`claims` signed the way the service signs: its current Ed25519 key, named by kid."""
    import jwt
    from service.signing_keys import ALGORITHM, current_signing_key

    with app.app_context():
        key = current_signing_key()
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


def public_key_of(app: Flask, token: str) -> Any:
    """The public key that verifies `token`, looked up by the kid in its header."""
    import jwt
    from service.signing_keys import public_key

    with app.app_context():
        return public_key(jwt.get_unverified_header(token)["kid"])


def role_permission_names(engine: Engine, role: str) -> list[str]:
    """The permission names `role` holds, read with plain SQL (so it works at any schema revision)."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                text(
                    "SELECT p.name FROM permissions p JOIN role_permissions rp ON rp.permission_id = p.id"
                    " JOIN roles r ON r.id = rp.role_id WHERE r.name = :role ORDER BY p.name"
                ),
                {"role": role},
            ).scalars()
        )
