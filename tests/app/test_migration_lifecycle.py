"""Migration 3d8f1c6b9a27 (issue 14, users and roles lifecycle) from the previous head, with data:
every user, role and grant is kept, the new columns get their defaults, role `admin` gains the new
permissions; and the downgrade gives the previous schema back with the people in it."""

from __future__ import annotations

from pathlib import Path

from service.models import PERMISSIONS
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from tests.support.app import migrate, role_permission_names

PREVIOUS = "04a999638a43"  # the audit trail
THIS = "3d8f1c6b9a27"


def seed(engine: Engine) -> None:
    """What a database at the previous head holds: an admin, a user with a custom role, a disabled user."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, username, username_key, password_hash, created_at, token_version,"
                " disabled_at) VALUES"
                " (1, 'admin', 'admin', 'hash-1', '2026-11-01 10:00:00+00:00', 'v1', NULL),"
                " (2, 'carol', 'carol', 'hash-2', '2026-11-02 10:00:00+00:00', 'v2', NULL),"
                " (3, 'dave', 'dave', 'hash-3', '2026-11-03 10:00:00+00:00', 'v3',"
                " '2026-11-04 10:00:00+00:00')"
            )
        )
        connection.execute(text("INSERT INTO roles (id, name) VALUES (1, 'admin'), (2, 'readers')"))
        connection.execute(
            text("INSERT INTO role_permissions (role_id, permission_id) SELECT 1, id FROM permissions")
        )
        connection.execute(
            text(
                "INSERT INTO role_permissions (role_id, permission_id)"
                " SELECT 2, id FROM permissions WHERE name = 'users:read'"
            )
        )
        connection.execute(text("INSERT INTO user_roles (user_id, role_id) VALUES (1, 1), (2, 2), (3, 2)"))


def test_upgrade_from_the_previous_head_keeps_every_user_role_and_grant(
    empty_db: tuple[Path, str], engine: Engine
) -> None:
    migrate(empty_db, revision=PREVIOUS)
    seed(engine)
    migrate(empty_db, revision=THIS)

    with engine.connect() as connection:
        users = connection.execute(
            text(
                "SELECT id, username, password_hash, token_version, disabled_at IS NOT NULL,"
                " deleted_at, display_name, must_change_password, kind FROM users ORDER BY id"
            )
        ).all()
        grants = connection.execute(text("SELECT user_id, role_id FROM user_roles ORDER BY user_id")).all()
        descriptions = connection.execute(text("SELECT name, description FROM roles ORDER BY id")).all()
        owners = connection.execute(text("SELECT DISTINCT owner_id FROM permissions")).scalars().all()
    assert [tuple(row) for row in users] == [
        (1, "admin", "hash-1", "v1", False, None, "", False, "user"),
        (2, "carol", "hash-2", "v2", False, None, "", False, "user"),
        (3, "dave", "hash-3", "v3", True, None, "", False, "user"),
    ]
    assert [tuple(row) for row in grants] == [(1, 1), (2, 2), (3, 2)]
    assert [tuple(row) for row in descriptions] == [("admin", ""), ("readers", "")]
    assert owners == [None]
    assert role_permission_names(engine, "admin") == sorted(PERMISSIONS)
    assert role_permission_names(engine, "readers") == ["users:read"]


def test_downgrade_gives_the_previous_schema_back_with_its_people(
    empty_db: tuple[Path, str], engine: Engine
) -> None:
    migrate(empty_db, revision=PREVIOUS)
    seed(engine)
    migrate(empty_db, revision=THIS)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, username, username_key, password_hash, created_at,"
                " token_version, kind) VALUES"
                " (4, 'billing', 'billing', 'secret-hash', '2026-11-05 10:00:00+00:00', 'v4', 'service')"
            )
        )
    migrate(empty_db, "downgrade", revision=PREVIOUS)

    columns = {column["name"] for column in inspect(engine).get_columns("users")}
    assert not columns & {"deleted_at", "display_name", "must_change_password", "kind"}
    with engine.connect() as connection:
        names = connection.execute(text("SELECT username FROM users ORDER BY id")).scalars().all()
        grants = connection.execute(text("SELECT user_id, role_id FROM user_roles ORDER BY user_id")).all()
    assert names == ["admin", "carol", "dave"]  # the service account could not stay as a person
    assert [tuple(row) for row in grants] == [(1, 1), (2, 2), (3, 2)]
    assert role_permission_names(engine, "admin") == [
        "audit:read",
        "roles:create",
        "roles:grant",
        "users:create",
        "users:read",
    ]
    migrate(empty_db, revision=THIS)
    assert role_permission_names(engine, "admin") == sorted(PERMISSIONS)
