"""Migration c4d1f0a8e5b7 (signing keys, logout denylist) upgrades a POPULATED database from the
previous head keeping every row, the users then log in with Ed25519 tokens, and it downgrades back."""

from __future__ import annotations

from pathlib import Path

import jwt
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from tests.support.app import ADMIN_PASSWORD, migrate, running_app, service_env

PREVIOUS_HEAD = "3d8f1c6b9a27"
TABLES = {
    "users": "SELECT id, username, username_key, password_hash, token_version, disabled_at"
    " FROM users ORDER BY id",
    "roles": "SELECT id, name FROM roles ORDER BY id",
    "role_permissions": "SELECT role_id, permission_id FROM role_permissions ORDER BY 1, 2",
    "user_roles": "SELECT user_id, role_id FROM user_roles ORDER BY 1, 2",
    "login_throttle": "SELECT key, failures FROM login_throttle ORDER BY key",
}


def populate(database: tuple[Path, str], engine: Engine) -> None:
    """What a database at the previous head holds: an admin made the operators' way, a locked name."""
    with running_app(service_env(*database)) as app:
        result = app.test_cli_runner().invoke(
            args=["create-admin", "admin", "--keep-password"], env={"ADMIN_PASSWORD": ADMIN_PASSWORD}
        )
        assert result.exit_code == 0, result.output
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO login_throttle (key, failures, last_failure, locked_until)"
                " VALUES ('user:mallory', 3, 1.0, 2.0)"
            )
        )


def snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as connection:
        return {name: [tuple(row) for row in connection.execute(text(sql))] for name, sql in TABLES.items()}


def test_upgrading_keeps_every_row_and_the_users_then_get_ed25519_tokens(
    empty_db: tuple[Path, str], engine: Engine
) -> None:
    migrate(empty_db, revision=PREVIOUS_HEAD)
    populate(empty_db, engine)
    before = snapshot(engine)
    assert len(before["users"]) == 1
    assert before["login_throttle"] == [("user:mallory", 3)]

    migrate(empty_db)

    assert snapshot(engine) == before
    assert {"signing_keys", "revoked_tokens"} <= set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM signing_keys")).scalar() == 0
    with running_app(service_env(*empty_db)) as app:
        client = app.test_client()
        login = client.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert login.status_code == 200, login.get_json()
        token = login.get_json()["access_token"]
        assert jwt.get_unverified_header(token)["alg"] == "EdDSA"
        me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert me.get_json()["roles"] == ["admin"]


def test_downgrading_drops_only_the_new_tables(empty_db: tuple[Path, str], engine: Engine) -> None:
    migrate(empty_db, revision=PREVIOUS_HEAD)
    populate(empty_db, engine)
    before = snapshot(engine)
    migrate(empty_db)
    migrate(empty_db, "downgrade", revision=PREVIOUS_HEAD)
    assert snapshot(engine) == before
    assert not {"signing_keys", "revoked_tokens"} & set(inspect(engine).get_table_names())
