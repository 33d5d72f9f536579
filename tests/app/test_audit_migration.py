"""Migration 0003 (audit trail) upgrades a POPULATED database from the previous head: every user, role,
permission and grant stays, role admin gains audit:read (its admin can read the trail at once), and a
downgrade takes back only what 0003 added."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from tests.app.test_schema_upgrade import PASSWORD, populate, snapshot
from tests.support.app import migrate, role_permission_names, running_app, service_env

PREVIOUS_HEAD = "7c3e9a5d21f4"
AUDIT_HEAD = "04a999638a43"


def test_upgrading_a_populated_database_keeps_the_data_and_gives_role_admin_audit_read(
    empty_db: tuple[Path, str], engine: Engine
) -> None:
    migrate(empty_db, revision="fa2b6257aa1b")
    populate(engine)  # users (case twins too), roles admin and auditor, their grants
    migrate(empty_db, revision=PREVIOUS_HEAD)
    before = snapshot(engine)
    with engine.connect() as connection:
        users_before = connection.execute(text("SELECT id, username_key, token_version FROM users")).all()

    migrate(empty_db, revision=AUDIT_HEAD)

    assert snapshot(engine) == {
        **before,
        "permissions": [*before["permissions"], (5, "audit:read", "read the audit trail")],
        "role_permissions": sorted([*before["role_permissions"], (1, 5)]),
    }
    with engine.connect() as connection:
        assert (
            connection.execute(text("SELECT id, username_key, token_version FROM users")).all()
            == users_before
        )
        assert connection.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == 0
    assert role_permission_names(engine, "auditor") == ["users:read"]  # only admin gains it

    # At the head (later migrations included), the existing admin (user 1, role admin) logs in and
    # reads the trail, which holds that login.
    migrate(empty_db)
    with running_app(service_env(*empty_db)) as app:
        client = app.test_client()
        login = client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
        assert login.status_code == 200, login.get_json()
        headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
        trail = client.get("/api/v1/audit-events", headers=headers)
    assert trail.status_code == 200, trail.get_json()
    assert [(e["action"], e["actor"]["name"]) for e in trail.get_json()["events"]] == [
        ("auth.login", "admin")
    ]


def test_downgrade_takes_back_only_the_audit_table_and_permission(
    empty_db: tuple[Path, str], engine: Engine
) -> None:
    migrate(empty_db, revision="fa2b6257aa1b")
    populate(engine)
    migrate(empty_db, revision=PREVIOUS_HEAD)
    before = snapshot(engine)
    migrate(empty_db, revision=AUDIT_HEAD)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_events (occurred_at, action, outcome, actor_type)"
                " VALUES ('2026-11-30 04:00:00+00:00', 'auth.login', 'success', 'user')"
            )
        )

    migrate(empty_db, "downgrade", revision=PREVIOUS_HEAD)

    assert snapshot(engine) == before
    assert "audit_events" not in inspect(engine).get_table_names()
    migrate(empty_db, revision=AUDIT_HEAD)  # and up again
    assert role_permission_names(engine, "admin")[0] == "audit:read"
