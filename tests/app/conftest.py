"""The service under test on a real database: a SQLite file and a fresh PostgreSQL database.

Tests that use `app`/`client` run once per backend. Each test module gets its own databases
(PostgreSQL: a uniquely named database, dropped afterwards); rows are deleted after each test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask_migrate
import pytest
from flask import Flask
from flask.testing import FlaskClient
from service.extensions import db
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from tests.support.app import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    BACKENDS,
    USER_PASSWORD,
    LoginAs,
    MakeUser,
    empty_database,
    running_app,
    service_env,
)


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def migrated_database(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[Path, str]]:
    """(DATA_DIR, DATABASE_URL) of a database upgraded to the migration head, holding the first admin.

    Shared by one test module: the admin is made once, the way operators make it
    (`flask create-admin` with ADMIN_PASSWORD), because argon2 makes every hash cost ~0.5 s here.
    """
    data_dir = tmp_path_factory.mktemp(f"data-{backend}")
    with empty_database(backend, data_dir, request) as url:
        with running_app(service_env(data_dir, url)) as app, app.app_context():
            flask_migrate.upgrade()
            result = app.test_cli_runner().invoke(
                args=["create-admin", ADMIN_USERNAME, "--keep-password"],
                env={"ADMIN_PASSWORD": ADMIN_PASSWORD},
            )
            assert result.exit_code == 0, result.output
        yield data_dir, url


@pytest.fixture(scope="module")
def admin_headers(migrated_database: tuple[Path, str]) -> dict[str, str]:
    """The admin's Authorization header, from one real login per module."""
    with running_app(service_env(*migrated_database)) as app:
        response = app.test_client().post(
            "/api/v1/auth/login", json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
        )
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


# Rows the tests made; the schema, the seeded permissions and the admin stay.
CLEANUP = [
    "DELETE FROM user_roles WHERE user_id IN (SELECT id FROM users WHERE username != 'admin')"
    " OR role_id IN (SELECT id FROM roles WHERE name != 'admin')",
    "DELETE FROM role_permissions WHERE role_id IN (SELECT id FROM roles WHERE name != 'admin')",
    "DELETE FROM users WHERE username != 'admin'",
    "DELETE FROM permissions WHERE owner_id IS NOT NULL",  # registered by a test (service/permissions.py)
    "DELETE FROM roles WHERE name != 'admin'",
    "DELETE FROM login_throttle",  # failed logins would otherwise lock the admin for the next test
    "DELETE FROM audit_events",
    "DELETE FROM revoked_tokens",
]


@pytest.fixture
def app(migrated_database: tuple[Path, str]) -> Iterator[Flask]:
    data_dir, url = migrated_database
    with running_app(service_env(data_dir, url)) as app:
        yield app
        with app.app_context():
            db.session.rollback()
            for statement in CLEANUP:
                db.session.execute(text(statement))
            db.session.commit()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def admin() -> dict[str, str]:
    """The admin's credentials (the user itself is made by `migrated_database`)."""
    return {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}


@pytest.fixture
def login_as(client: FlaskClient) -> LoginAs:
    """Log in through the API; returns the Authorization header carrying the bearer token."""

    def login(username: str, password: str) -> dict[str, str]:
        response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.get_json()
        return {"Authorization": f"Bearer {response.get_json()['access_token']}"}

    return login


@pytest.fixture
def make_user(client: FlaskClient, admin_headers: dict[str, str]) -> MakeUser:
    """Create a user through the API (as admin), optionally granting roles; returns the user JSON."""

    def make(username: str, password: str = USER_PASSWORD, roles: tuple[str, ...] = ()) -> dict[str, Any]:
        response = client.post(
            "/api/v1/users", json={"username": username, "password": password}, headers=admin_headers
        )
        assert response.status_code == 201, response.get_json()
        user: dict[str, Any] = response.get_json()
        for role in roles:
            granted = client.post(
                f"/api/v1/users/{user['id']}/roles", json={"role": role}, headers=admin_headers
            )
            assert granted.status_code == 200, granted.get_json()
            user = granted.get_json()
        return user

    return make


@pytest.fixture
def empty_db(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Path, str]]:
    """(DATA_DIR, URL) of a brand-new empty database on the module's backend."""
    with empty_database(backend, tmp_path, request) as url:
        yield tmp_path, url


@pytest.fixture
def engine(empty_db: tuple[Path, str]) -> Iterator[Engine]:
    """An engine on `empty_db`, disposed after the test."""
    engine = create_engine(empty_db[1])
    yield engine
    engine.dispose()
