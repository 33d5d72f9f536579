"""Migration 0002 (token version, disabled users, case-insensitive names, login throttle) upgrades a
POPULATED database from the previous head and keeps every user, role, permission and grant."""

from __future__ import annotations

from pathlib import Path

import flask_migrate
from argon2 import PasswordHasher
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from tests.support.app import migrate, running_app, service_env

PREVIOUS_HEAD = "fa2b6257aa1b"
THIS_REVISION = "7c3e9a5d21f4"
PASSWORD = "kept-password-1"
TABLES = {
    "users": "SELECT id, username, password_hash FROM users ORDER BY id",
    "roles": "SELECT id, name FROM roles ORDER BY id",
    "permissions": "SELECT id, name, description FROM permissions ORDER BY id",
    "role_permissions": "SELECT role_id, permission_id FROM role_permissions ORDER BY 1, 2",
    "user_roles": "SELECT user_id, role_id FROM user_roles ORDER BY 1, 2",
}


def populate(engine: Engine) -> None:
    """What a database at the previous head may hold, names differing only in case included."""
    password_hash = PasswordHasher().hash(PASSWORD)
    with engine.begin() as connection:
        for user_id, name in enumerate(["admin", "Alice", "bob", "alice", "ADMIN"], start=1):
            connection.execute(
                text(
                    "INSERT INTO users (id, username, password_hash, created_at)"
                    " VALUES (:id, :name, :hash, '2026-11-01 12:00:00+00:00')"
                ),
                {"id": user_id, "name": name, "hash": password_hash},
            )
        connection.execute(text("INSERT INTO roles (id, name) VALUES (1, 'admin'), (2, 'auditor')"))
        connection.execute(
            text("INSERT INTO role_permissions (role_id, permission_id) SELECT 1, id FROM permissions")
        )
        connection.execute(
            text(
                "INSERT INTO role_permissions (role_id, permission_id)"
                " SELECT 2, id FROM permissions WHERE name = 'users:read'"
            )
        )
        connection.execute(
            text("INSERT INTO user_roles (user_id, role_id) VALUES (1, 1), (2, 2), (3, 2), (4, 1), (5, 2)")
        )


def snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as connection:
        return {name: [tuple(row) for row in connection.execute(text(sql))] for name, sql in TABLES.items()}


def test_upgrading_a_populated_database_keeps_every_user_role_and_grant(
    empty_db: tuple[Path, str], engine: Engine
) -> None:
    migrate(empty_db, revision=PREVIOUS_HEAD)
    populate(engine)
    before = snapshot(engine)
    assert len(before["users"]) == 5
    assert len(before["user_roles"]) == 5

    migrate(empty_db, revision=THIS_REVISION)  # later migrations may add rows of their own

    assert snapshot(engine) == before
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT username, username_key, token_version, disabled_at FROM users ORDER BY id")
        ).all()
    # The first of each name (lowest id) holds it; later case-twins are kept without a key.
    assert [(name, key) for name, key, _, _ in rows] == [
        ("admin", "admin"),
        ("Alice", "alice"),
        ("bob", "bob"),
        ("alice", None),
        ("ADMIN", None),
    ]
    versions = [version for _, _, version, _ in rows]
    assert all(len(version) == 32 for version in versions)
    assert len(set(versions)) == 5
    assert all(disabled is None for _, _, _, disabled in rows)
    assert "login_throttle" in inspect(engine).get_table_names()

    # The kept users work through the service at the new head.
    migrate(empty_db)
    with running_app(service_env(*empty_db)) as app:
        client = app.test_client()
        for name in ("admin", "alice", "ADMIN", "bob"):
            login = client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
            assert login.status_code == 200, (name, login.get_json())
        headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
        me = client.get("/api/v1/users/me", headers=headers).get_json()
        assert (me["roles"], me["permissions"]) == (["auditor"], ["users:read"])
        admin_token = client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
        admin_headers = {"Authorization": f"Bearer {admin_token.get_json()['access_token']}"}
        taken = client.post(
            "/api/v1/users", json={"username": "BOB", "password": PASSWORD}, headers=admin_headers
        )
        assert taken.status_code == 409


def test_downgrade_to_the_previous_head_keeps_the_rows_too(
    empty_db: tuple[Path, str], engine: Engine
) -> None:
    migrate(empty_db, revision=PREVIOUS_HEAD)
    populate(engine)
    before = snapshot(engine)
    migrate(empty_db)
    with running_app(service_env(*empty_db)) as app, app.app_context():
        flask_migrate.downgrade(revision=PREVIOUS_HEAD)
    assert snapshot(engine) == before
    assert "login_throttle" not in inspect(engine).get_table_names()
    assert "token_version" not in {column["name"] for column in inspect(engine).get_columns("users")}
