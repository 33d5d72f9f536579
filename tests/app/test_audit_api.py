"""Issue 14, audit trail: reading it (GET /api/v1/audit-events, permission audit:read, filters, pages)
and its retention (AUDIT_RETENTION_DAYS, enforced by a bounded purge after writes and `flask audit purge`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from service import ConfigError, audit, create_app
from service.config import AUDIT_RETENTION_DAYS_DEFAULT, audit_retention_days
from service.extensions import db
from service.models import AuditEvent
from sqlalchemy import delete, func, insert, select

from tests.support.app import USER_PASSWORD, LoginAs, MakeUser, error_of

URL = "/api/v1/audit-events"


@pytest.fixture(autouse=True)
def empty_trail(app: Flask, admin_headers: dict[str, str]) -> None:
    """Start each test with no records (the module's admin login, made once, left one)."""
    with app.app_context():
        db.session.execute(delete(AuditEvent))
        db.session.commit()


def add_events(app: Flask, *ages_days: float, action: str = "old.event") -> None:
    """Records `ages_days` old, written directly (bulk: the purge bound needs more than a thousand)."""
    now = datetime.now(UTC)
    rows = [
        {
            "occurred_at": now - timedelta(days=age),
            "action": action,
            "outcome": "success",
            "actor_type": "cli",
        }
        for age in ages_days
    ]
    with app.app_context():
        db.session.execute(insert(AuditEvent), rows)
        db.session.commit()


def count(app: Flask, **where: Any) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(AuditEvent).filter_by(**where)) or 0)


def test_reading_the_trail_needs_audit_read_and_a_refusal_is_itself_recorded(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser, login_as: LoginAs
) -> None:
    error_of(client.get(URL), 401)
    make_user("nosy")
    refused = client.get(URL, headers=login_as("nosy", USER_PASSWORD))
    assert error_of(refused, 403)["message"] == "missing permission 'audit:read'"
    trail = client.get(URL, headers=admin_headers)
    assert trail.status_code == 200
    assert trail.headers["Cache-Control"] == "no-store"
    newest = trail.get_json()["events"][0]
    assert (newest["action"], newest["outcome"], newest["actor"]["name"]) == (
        "permission.check",
        "denied",
        "nosy",
    )
    assert newest["target"] == {"type": "permission", "id": None, "name": "audit:read"}
    assert newest["details"] == {"method": "GET", "route": "/api/v1/audit-events"}


def test_a_role_with_audit_read_can_be_made_and_granted_by_an_admin(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser, login_as: LoginAs
) -> None:
    role = client.post(
        "/api/v1/roles", json={"name": "auditors", "permissions": ["audit:read"]}, headers=admin_headers
    )
    assert role.status_code == 201, role.get_json()
    make_user("ivy", roles=("auditors",))
    trail = client.get(URL, headers=login_as("ivy", USER_PASSWORD))
    assert trail.status_code == 200
    assert [e["action"] for e in trail.get_json()["events"]][:3] == [
        "auth.login",
        "role.grant",
        "user.create",
    ]


def test_filters_narrow_the_trail_and_pages_walk_it_newest_first_without_gaps(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser
) -> None:
    user = make_user("fred")
    failed = [
        client.post("/api/v1/auth/login", json={"username": "fred", "password": f"wrong-{n}"})
        for n in range(3)
    ]
    add_events(app, 10, 20)

    def get(**params: Any) -> dict[str, Any]:
        response = client.get(URL, query_string=params, headers=admin_headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    everything = get()["events"]
    ids = [event["id"] for event in everything]
    assert ids == sorted(ids, reverse=True)
    assert len(get(action="auth.login", outcome="failure")["events"]) == 3
    assert [e["request_id"] for e in get(request_id=failed[1].headers["X-Request-ID"])["events"]] == [
        failed[1].headers["X-Request-ID"]
    ]
    # user_id: the user as actor (the failed logins) or as target (its creation).
    about_fred = get(user_id=user["id"])["events"]
    assert sorted(e["action"] for e in about_fred) == ["auth.login"] * 3 + ["user.create"]
    assert [e["action"] for e in get(target_type="user", target_id=str(user["id"]))["events"]] == [
        "user.create"
    ]
    assert [e["action"] for e in get(actor_type="cli")["events"]] == ["old.event", "old.event"]
    week_ago = (datetime.now(UTC) - timedelta(days=7)).isoformat().replace("+00:00", "Z")
    assert {e["action"] for e in get(until=week_ago)["events"]} == {"old.event"}
    assert len(get(since=week_ago)["events"]) == len(everything) - 2
    naive_fortnight = (datetime.now(UTC) - timedelta(days=15)).replace(tzinfo=None).isoformat()
    assert len(get(since=naive_fortnight, until=week_ago)["events"]) == 1  # naive = UTC
    assert get(since=week_ago, until=naive_fortnight)["events"] == []  # an empty window, not an error

    pages, before = [], None
    while True:
        page = get(limit=2, **({"before_id": before} if before else {}))
        assert page["limit"] == 2
        pages.append([event["id"] for event in page["events"]])
        before = page["next_before_id"]
        if before is None:
            break
        assert len(pages) < 20
    assert [event_id for page in pages for event_id in page] == ids
    assert all(len(page) == 2 for page in pages[:-1])


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "'limit': Input should be greater than or equal to 1"),
        ("limit=501", "'limit': Input should be less than or equal to 500"),
        ("limit=ten", "'limit': Input should be a valid integer"),
        ("before_id=99999999999", "'before_id': Input should be less than or equal to 2147483647"),
        ("outcome=maybe", "'outcome': Input should be 'success', 'failure', 'denied' or 'throttled'"),
        ("action=Auth%20Login", "'action': String should match pattern"),
        ("target_type=a%00b", "'target_type': String should match pattern"),
        ("since=yesterday", "'since': Value error, expected an ISO 8601 date and time"),
        ("until=1764475200", "'until': Value error, expected an ISO 8601 date and time"),
        ("since=2026-11-30T25:00:00Z", "'since': Input should be a valid datetime"),
        ("since=0001-01-01T00:00:00%2B01:00", "'since': Value error, the time is out of range in UTC"),
        ("colour=blue", "'colour': Extra inputs are not permitted"),
    ],
)
def test_a_bad_query_is_a_400_naming_the_parameter(
    client: FlaskClient, admin_headers: dict[str, str], query: str, message: str
) -> None:
    error = error_of(client.get(f"{URL}?{query}", headers=admin_headers), 400)
    assert error["message"].startswith(message), error["message"]


def test_the_purge_deletes_only_records_older_than_the_retention(app: Flask) -> None:
    app.config["AUDIT_RETENTION_DAYS"] = 30
    add_events(app, 31, 45, 400, action="expired.event")
    add_events(app, 29, 1, 0, action="kept.event")
    with app.app_context():
        assert audit.purge() == 3
    assert count(app, action="expired.event") == 0
    assert count(app, action="kept.event") == 3


def test_a_write_purges_expired_records_bounded_per_run(app: Flask, client: FlaskClient) -> None:
    app.config["AUDIT_RETENTION_DAYS"] = 30
    add_events(app, *[40.0] * (audit.PURGE_BATCH + 5), action="expired.event")
    add_events(app, 2, action="kept.event")
    app.config["AUDIT_PURGE_INTERVAL_SECONDS"] = 0.0
    client.post("/api/v1/auth/login", json={"username": "nobody", "password": "x"})  # writes, so purges
    assert count(app, action="expired.event") == 5  # one batch only: no request pays for a huge delete
    app.config["AUDIT_PURGE_INTERVAL_SECONDS"] = 3600.0
    client.post("/api/v1/auth/login", json={"username": "nobody", "password": "x"})  # within the interval
    assert count(app, action="expired.event") == 5
    app.config["AUDIT_PURGE_INTERVAL_SECONDS"] = 0.0
    client.post("/api/v1/auth/login", json={"username": "nobody", "password": "x"})
    assert count(app, action="expired.event") == 0
    assert count(app, action="kept.event") == 1
    assert count(app, action="auth.login") == 3


def test_flask_audit_purge_deletes_everything_expired_and_records_itself(app: Flask) -> None:
    app.config["AUDIT_RETENTION_DAYS"] = 30
    add_events(app, *[60.0] * 25, action="expired.event")
    add_events(app, 20, action="kept.event")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "purge"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("deleted 25 audit records from before ")
    assert "(30 days)" in result.output
    assert count(app, action="expired.event") == 0
    result = runner.invoke(args=["audit", "purge", "--older-than-days", "10"])
    assert result.output.startswith("deleted 1 audit records")
    with app.app_context():
        purges = db.session.scalars(
            select(AuditEvent).filter_by(action="audit.purge").order_by(AuditEvent.id)
        ).all()
        assert [(p.actor_type, p.details and p.details["deleted"]) for p in purges] == [
            ("cli", 25),
            ("cli", 1),
        ]


@pytest.mark.parametrize("days", ["0", "-1", "3651"])
def test_flask_audit_purge_refuses_a_bad_age(app: Flask, days: str) -> None:
    result = app.test_cli_runner().invoke(args=["audit", "purge", "--older-than-days", days])
    assert result.exit_code == 2
    assert "Invalid value for '--older-than-days'" in result.output


def test_audit_retention_days_is_a_validated_setting(tmp_path: Path) -> None:
    assert audit_retention_days({}) == AUDIT_RETENTION_DAYS_DEFAULT == 90
    assert audit_retention_days({"AUDIT_RETENTION_DAYS": " 365 "}) == 365
    for raw, message in [
        ("0", "AUDIT_RETENTION_DAYS='0' must be a positive integer"),
        ("a year", "AUDIT_RETENTION_DAYS='a year' is not a whole number"),
        ("3651", "AUDIT_RETENTION_DAYS=3651 is over the ceiling of 3650 days"),
    ]:
        with pytest.raises(ConfigError, match=message):
            create_app({"RUNTIME_ENV": "dev", "DATA_DIR": str(tmp_path), "AUDIT_RETENTION_DAYS": raw})


def test_flask_audit_show_prints_the_filtered_records_as_json_lines(app: Flask, client: FlaskClient) -> None:
    for _ in range(2):
        client.post("/api/v1/auth/login", json={"username": "ghost", "password": "wrong-password"})
    add_events(app, 3, action="old.event")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "show", "action=auth.login", "limit=5"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [(e["action"], e["outcome"], e["actor"]["name"]) for e in lines] == [
        ("auth.login", "failure", "ghost")
    ] * 2
    assert lines[0]["id"] > lines[1]["id"]
    everything = runner.invoke(args=["audit", "show"]).output.splitlines()
    assert len(everything) == 3
    refused = runner.invoke(args=["audit", "show", "outcome=maybe"])
    assert refused.exit_code == 2
    assert "'outcome': Input should be 'success', 'failure', 'denied' or 'throttled'" in refused.output
    assert "each filter is NAME=VALUE" in runner.invoke(args=["audit", "show", "auth.login"]).output
