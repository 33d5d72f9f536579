"""Issue 14, audit trail: every security-relevant event is one record (time, actor, action, target,
outcome, client address, request id), committed with its change, or on its own when refused."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from service import audit
from service.audit import Target
from service.config import trusted_proxies
from service.extensions import db
from service.models import AuditEvent, LoginThrottle, User
from sqlalchemy import delete, event, func, select, text, update
from werkzeug.exceptions import Forbidden

from tests.support.app import (
    ADMIN_USERNAME,
    USER_PASSWORD,
    LoginAs,
    MakeUser,
    error_of,
    running_app,
    service_env,
)

WRONG = "not-the-password"


@pytest.fixture(autouse=True)
def empty_trail(app: Flask, admin_headers: dict[str, str]) -> None:
    """Start each test with no records (the module's admin login, made once, left one)."""
    with app.app_context():
        db.session.execute(delete(AuditEvent))
        db.session.commit()


def events(app: Flask, **where: Any) -> list[dict[str, Any]]:
    """The stored records, oldest first, optionally only those whose columns equal `where`."""
    with app.app_context():
        query = select(AuditEvent).filter_by(**where).order_by(AuditEvent.id)
        return [event.to_dict() for event in db.session.scalars(query)]


def login(client: FlaskClient, username: str, password: str, **kwargs: Any) -> Any:
    return client.post("/api/v1/auth/login", json={"username": username, "password": password}, **kwargs)


def test_a_login_ok_and_a_failed_login_are_recorded_with_client_and_request_id(
    app: Flask, client: FlaskClient, make_user: MakeUser
) -> None:
    user = make_user("lena")
    before = datetime.now(UTC)
    ok = login(client, "lena", USER_PASSWORD, environ_base={"REMOTE_ADDR": "192.0.2.10"})
    wrong = login(client, "lena", WRONG, environ_base={"REMOTE_ADDR": "192.0.2.11"})
    unknown = login(client, "nobody-here", WRONG, environ_base={"REMOTE_ADDR": "192.0.2.12"})
    assert (ok.status_code, wrong.status_code, unknown.status_code) == (200, 401, 401)

    recorded = events(app, action="auth.login")
    assert [(e["outcome"], e["actor"], e["client_address"], e["request_id"]) for e in recorded] == [
        (
            "success",
            {"type": "user", "id": user["id"], "name": "lena"},
            "192.0.2.10",
            ok.headers["X-Request-ID"],
        ),
        (
            "failure",
            {"type": "user", "id": user["id"], "name": "lena"},
            "192.0.2.11",
            wrong.headers["X-Request-ID"],
        ),
        (
            "failure",
            {"type": "anonymous", "id": None, "name": "nobody-here"},
            "192.0.2.12",
            unknown.headers["X-Request-ID"],
        ),
    ]
    assert [e["details"] for e in recorded] == [{}, {"reason": "wrong password"}, {"reason": "unknown user"}]
    for record in recorded:
        occurred = datetime.fromisoformat(record["occurred_at"])
        assert occurred.tzinfo is not None
        assert before - timedelta(seconds=1) <= occurred <= datetime.now(UTC)


def test_a_login_ok_commits_its_record_with_the_cleared_failures_in_one_transaction(
    app: Flask, client: FlaskClient, make_user: MakeUser
) -> None:
    make_user("olga")
    login(client, "olga", WRONG)
    with app.app_context():
        engine = db.engine
    commits: list[object] = []

    def count_commit(connection: object) -> None:
        commits.append(connection)

    event.listen(engine, "commit", count_commit)
    try:
        assert login(client, "olga", USER_PASSWORD).status_code == 200
    finally:
        event.remove(engine, "commit", count_commit)
    assert len(commits) == 1
    assert [e["outcome"] for e in events(app, action="auth.login")] == ["failure", "success"]
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count()).select_from(LoginThrottle).where(LoginThrottle.key == "user:olga")
            )
            == 0
        )


def test_a_disabled_users_login_is_recorded_as_denied(
    app: Flask, client: FlaskClient, make_user: MakeUser
) -> None:
    make_user("dora")
    result = app.test_cli_runner().invoke(args=["disable-user", "dora"])
    assert result.exit_code == 0, result.output
    error_of(login(client, "dora", USER_PASSWORD), 403)
    assert [(e["outcome"], e["details"]) for e in events(app, action="auth.login")] == [
        ("denied", {"reason": "user disabled"})
    ]
    (disabled,) = events(app, action="user.disable")
    assert disabled["actor"] == {"type": "cli", "id": None, "name": None}
    assert disabled["target"]["name"] == "dora"
    assert disabled["client_address"] is None
    assert disabled["request_id"] is None


def test_throttled_logins_are_recorded_with_the_client_address_seen_through_a_trusted_proxy(
    migrated_database: tuple[Path, str], app: Flask, make_user: MakeUser
) -> None:
    make_user("tom")
    with running_app(
        service_env(*migrated_database, TRUSTED_PROXIES="10.0.0.0/8"), LOGIN_FAILURES_PER_ACCOUNT=2
    ) as proxied:
        client = proxied.test_client()
        through_proxy = {"environ_base": {"REMOTE_ADDR": "10.1.2.3"}}
        for attempt in range(2):
            headers = {"X-Forwarded-For": "203.0.113.7", "X-Request-ID": f"edge-fail-{attempt}"}
            assert login(client, "tom", WRONG, headers=headers, **through_proxy).status_code == 401
        lock_for(proxied, "user:tom", 60)  # as if the backoff had grown: no 1 s lock ends mid-test
        headers = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7", "X-Request-ID": "edge-throttled"}
        refused = [login(client, "tom", USER_PASSWORD, headers=headers, **through_proxy) for _ in range(3)]
        lock_for(proxied, "user:tom", 120)  # a new lock: its first refusal is on record again
        headers["X-Request-ID"] = "edge-relocked"
        relocked = login(client, "tom", USER_PASSWORD, headers=headers, **through_proxy)
    for response in (*refused, relocked):
        error_of(response, 429)
    recorded = events(app, action="auth.login")
    # One record per lock (and worker): the first of its refusals. The log keeps every one.
    assert [(e["outcome"], e["client_address"], e["request_id"]) for e in recorded] == [
        ("failure", "203.0.113.7", "edge-fail-0"),
        ("failure", "203.0.113.7", "edge-fail-1"),
        ("throttled", "203.0.113.7", "edge-throttled"),  # the hop the trusted proxy saw, not 10.1.2.3
        ("throttled", "203.0.113.7", "edge-relocked"),
    ]
    assert recorded[2]["actor"]["name"] == "tom"
    assert recorded[2]["details"]["reason"].startswith("too many failed logins for this account")
    assert recorded[2]["details"]["locked"] == ["user:tom"]


def lock_for(app: Flask, key: str, seconds: float) -> None:
    with app.app_context():
        db.session.execute(
            update(LoginThrottle).where(LoginThrottle.key == key).values(locked_until=time.time() + seconds)
        )
        db.session.commit()


def test_an_untrusted_peer_cannot_put_another_address_or_request_id_on_record(
    app: Flask, client: FlaskClient
) -> None:
    app.config["TRUSTED_PROXIES"] = trusted_proxies({"TRUSTED_PROXIES": "10.0.0.0/8"})
    headers = {"X-Forwarded-For": "203.0.113.7", "X-Request-ID": "forged-id"}
    response = login(client, "someone", WRONG, headers=headers, environ_base={"REMOTE_ADDR": "192.0.2.99"})
    (event,) = events(app, action="auth.login")
    assert event["client_address"] == "192.0.2.99"
    assert event["request_id"] == response.headers["X-Request-ID"] != "forged-id"


def test_user_role_and_grant_changes_are_recorded_with_the_admin_as_actor(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    created = client.post(
        "/api/v1/users", json={"username": "uma", "password": USER_PASSWORD}, headers=admin_headers
    )
    role = client.post(
        "/api/v1/roles", json={"name": "readers", "permissions": ["users:read"]}, headers=admin_headers
    )
    user_id, role_id = created.get_json()["id"], role.get_json()["id"]
    granted = client.post(f"/api/v1/users/{user_id}/roles", json={"role": "readers"}, headers=admin_headers)
    again = client.post(f"/api/v1/users/{user_id}/roles", json={"role": "readers"}, headers=admin_headers)
    assert (created.status_code, role.status_code, granted.status_code, again.status_code) == (
        201,
        201,
        200,
        200,
    )

    recorded = [e for e in events(app) if e["action"] != "auth.login"]
    summary = [(e["action"], e["outcome"], e["target"], e["details"]) for e in recorded]
    assert summary == [
        ("user.create", "success", {"type": "user", "id": str(user_id), "name": "uma"}, {}),
        (
            "role.create",
            "success",
            {"type": "role", "id": str(role_id), "name": "readers"},
            {"permissions": ["users:read"]},
        ),
        # The second grant changed nothing, so it is no event.
        (
            "role.grant",
            "success",
            {"type": "user", "id": str(user_id), "name": "uma"},
            {"role": "readers", "role_id": role_id},
        ),
    ]
    assert {e["actor"]["name"] for e in recorded} == {ADMIN_USERNAME}
    assert [e["request_id"] for e in recorded] == [
        created.headers["X-Request-ID"],
        role.headers["X-Request-ID"],
        granted.headers["X-Request-ID"],
    ]


def test_denied_authorizations_are_recorded_and_committed_although_the_request_failed(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser, login_as: LoginAs
) -> None:
    client.post(
        "/api/v1/roles", json={"name": "granters", "permissions": ["roles:grant"]}, headers=admin_headers
    )
    client.post(
        "/api/v1/roles", json={"name": "creators", "permissions": ["users:create"]}, headers=admin_headers
    )
    granter = make_user("gus", roles=("granters",))
    victim = make_user("val")
    headers = login_as("gus", USER_PASSWORD)

    escalation = client.post(
        f"/api/v1/users/{victim['id']}/roles", json={"role": "creators"}, headers=headers
    )
    unguarded = client.post(
        "/api/v1/users", json={"username": "mallory", "password": USER_PASSWORD}, headers=headers
    )
    authorize = client.post("/api/v1/authorize", json={"permission": "users:create"}, headers=headers)
    allowed = client.post("/api/v1/authorize", json={"permission": "roles:grant"}, headers=headers)
    for response in (escalation, unguarded, authorize):
        error_of(response, 403)
    assert allowed.status_code == 200

    denied = events(app, outcome="denied")
    gus = {"type": "user", "id": granter["id"], "name": "gus"}
    assert [(e["action"], e["actor"], e["target"], e["details"]) for e in denied] == [
        (
            "role.grant",
            gus,
            {"type": "user", "id": str(victim["id"]), "name": "val"},
            {"missing_permissions": ["users:create"]},
        ),
        (
            "permission.check",
            gus,
            {"type": "permission", "id": None, "name": "users:create"},
            {"method": "POST", "route": "/api/v1/users"},
        ),
        ("authorize", gus, {"type": "permission", "id": None, "name": "users:create"}, {}),
    ]
    # Nothing of the refused changes happened, and an allowed authorize is not an event (the hot path).
    assert "creators" not in client.get("/api/v1/users?limit=500", headers=admin_headers).get_data(
        as_text=True
    )
    assert not events(app, action="authorize", outcome="success")
    assert not events(app, target_name="mallory")


def test_a_password_change_is_recorded_and_a_wrong_current_password_too(
    app: Flask, client: FlaskClient, make_user: MakeUser, login_as: LoginAs
) -> None:
    user = make_user("paula")
    headers = login_as("paula", USER_PASSWORD)
    wrong = client.put(
        "/api/v1/users/me/password",
        json={"current_password": WRONG, "new_password": "brand-new-pass-1"},
        headers=headers,
    )
    changed = client.put(
        "/api/v1/users/me/password",
        json={"current_password": USER_PASSWORD, "new_password": "brand-new-pass-1"},
        headers=headers,
    )
    assert (wrong.status_code, changed.status_code) == (401, 200)
    recorded = events(app, action="user.password.change")
    assert [(e["outcome"], e["actor"]["id"], e["details"]) for e in recorded] == [
        ("failure", user["id"], {"reason": "wrong password"}),
        ("success", user["id"], {"tokens_revoked": True}),
    ]
    assert recorded[1]["target"] == {"type": "user", "id": str(user["id"]), "name": "paula"}


def test_a_change_that_is_rolled_back_leaves_no_success_record_but_the_refusal_stays(app: Flask) -> None:
    """A view that changes a user, records success and a refusal, then fails: Flask's real request
    cycle must drop the change with its success record and still commit the refusal."""

    def fails_halfway() -> str:
        admin = db.session.scalar(select(User).where(User.username == ADMIN_USERNAME))
        assert admin is not None
        admin.revoke_tokens()
        audit.record("user.tokens.revoke", target=Target.user(admin))
        audit.record("user.tokens.revoke", "denied", target=Target.user(admin), details={"reason": "test"})
        raise Forbidden("refused after the change")

    app.add_url_rule("/fails-halfway", view_func=fails_halfway, methods=["POST"])
    with app.app_context():
        version = db.session.scalar(select(User.token_version).where(User.username == ADMIN_USERNAME))
    response = app.test_client().post("/fails-halfway")
    error_of(response, 403)
    recorded = events(app, action="user.tokens.revoke")
    assert [(e["outcome"], e["request_id"]) for e in recorded] == [
        ("denied", response.headers["X-Request-ID"])
    ]
    with app.app_context():
        assert db.session.scalar(select(User.token_version).where(User.username == ADMIN_USERNAME)) == version


def test_a_create_that_loses_a_unique_race_is_a_409_without_a_success_record(
    app: Flask,
    client: FlaskClient,
    admin_headers: dict[str, str],
    make_user: MakeUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_user("raced")
    # As if the other create had come in between the check and the insert:
    monkeypatch.setattr(sys.modules["service.api"], "_username_taken", lambda _name: False)
    error_of(
        client.post(
            "/api/v1/users", json={"username": "raced", "password": USER_PASSWORD}, headers=admin_headers
        ),
        409,
    )
    assert len(events(app, action="user.create", target_name="raced")) == 1  # make_user's own


def test_no_record_ever_holds_a_password_token_or_hash(
    app: Flask, client: FlaskClient, admin: dict[str, str], admin_headers: dict[str, str], make_user: MakeUser
) -> None:
    secrets = ["first-secret-pass-1", "second-secret-pass-2", "wrong-secret-pass-3", admin["password"]]
    make_user("sam", password=secrets[0])
    token = login(client, "sam", secrets[0]).get_json()["access_token"]
    login(client, "sam", secrets[2])
    headers = {"Authorization": f"Bearer {token}"}
    client.post("/api/v1/authorize", json={"permission": "users:read"}, headers=headers)  # denied
    client.put(
        "/api/v1/users/me/password",
        json={"current_password": secrets[2], "new_password": secrets[1]},
        headers=headers,
    )
    client.put(
        "/api/v1/users/me/password",
        json={"current_password": secrets[0], "new_password": secrets[1]},
        headers=headers,
    )
    with app.app_context():
        hashes = list(db.session.scalars(select(User.password_hash)))
        rows = db.session.execute(text("SELECT * FROM audit_events")).all()
    assert len(rows) == 6  # create, login ok, login failed, authorize denied, change failed, change ok
    stored = "\n".join(repr(tuple(row)) for row in rows)
    for secret in [*secrets, token, admin_headers["Authorization"].split()[1], *hashes]:
        assert secret not in stored


@pytest.mark.parametrize(
    "key", ["password", "new_password", "client_secret", "access_token", "refresh_tokens"]
)
def test_record_refuses_details_that_name_a_secret(app: Flask, key: str) -> None:
    with app.app_context(), pytest.raises(ValueError, match=f"must not carry secrets: refused key '{key}'"):
        audit.record("user.create", details={key: "x"})


@pytest.mark.parametrize(
    ("action", "outcome", "message"),
    [
        ("User Create", "success", "must be dotted lowercase words"),
        ("user.create", "maybe", "must be one of"),
    ],
)
def test_record_refuses_an_unknown_action_shape_or_outcome(
    app: Flask, action: str, outcome: Any, message: str
) -> None:
    with app.app_context(), pytest.raises(ValueError, match=message):
        audit.record(action, outcome)


def test_cli_account_commands_are_recorded_with_actor_cli(app: Flask, make_user: MakeUser) -> None:
    make_user("carl")
    runner = app.test_cli_runner()
    for args in (
        ["revoke-tokens", "carl"],
        ["enable-user", "carl"],
        ["unlock-user", "carl"],
        ["unlock-address", "192.0.2.5"],
    ):
        assert runner.invoke(args=args).exit_code == 0
    assert (
        runner.invoke(args=["set-password", "carl"], env={"NEW_PASSWORD": "carl-new-pass-1"}).exit_code == 0
    )
    recorded = [e for e in events(app) if e["actor"]["type"] == "cli"]
    assert [(e["action"], e["target"]["name"]) for e in recorded] == [
        ("user.tokens.revoke", "carl"),
        ("user.enable", "carl"),
        ("login.unlock", "user:carl"),
        ("login.unlock", "addr:192.0.2.5"),
        ("user.password.set", "carl"),
    ]
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.actor_type == "cli")
            )
            == 5
        )


def test_a_disabled_users_password_change_without_a_token_is_recorded_as_denied(
    app: Flask, client: FlaskClient, make_user: MakeUser
) -> None:
    user = make_user("dina")
    assert app.test_cli_runner().invoke(args=["disable-user", "dina"]).exit_code == 0
    body = {"username": "dina", "current_password": USER_PASSWORD, "new_password": "a-fresh-long-passphrase"}
    error_of(client.post("/api/v1/auth/password-change", json=body), 403)
    (denied,) = events(app, action="user.password.change")
    assert (denied["outcome"], denied["actor"]["id"], denied["details"]) == (
        "denied",
        user["id"],
        {"reason": "user disabled"},
    )


def test_service_account_secrets_and_tokens_never_reach_a_record_and_a_false_introspection_is_denied(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser
) -> None:
    role = {"name": "introspectors", "permissions": ["users:introspect"]}
    assert client.post("/api/v1/roles", json=role, headers=admin_headers).status_code == 201
    created = client.post(
        "/api/v1/service-accounts", json={"name": "billing"}, headers=admin_headers
    ).get_json()
    account_id, secret = created["service_account"]["id"], created["client_secret"]
    granted = client.post(
        f"/api/v1/users/{account_id}/roles", json={"role": "introspectors"}, headers=admin_headers
    )
    assert granted.status_code == 200
    replaced = client.post(f"/api/v1/service-accounts/{account_id}/secret", headers=admin_headers).get_json()
    grant = {"grant_type": "client_credentials", "client_id": "billing"}
    wrong = client.post("/api/v1/auth/token", json={**grant, "client_secret": secret})  # the replaced one
    issued = client.post("/api/v1/auth/token", json={**grant, "client_secret": replaced["client_secret"]})
    assert (wrong.status_code, issued.status_code) == (401, 200)
    token = issued.get_json()["access_token"]
    user = make_user("quinn")
    asked = client.post(
        f"/api/v1/users/{user['id']}/authorize",
        json={"permission": "users:read"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert asked.get_json()["allowed"] is False

    (denied,) = events(app, action="user.introspect")
    assert (denied["outcome"], denied["actor"], denied["target"]["name"], denied["details"]) == (
        "denied",
        {"type": "service_account", "id": account_id, "name": "billing"},
        "quinn",
        {"permission": "users:read"},
    )
    tokens = events(app, action="auth.token")
    assert [(e["outcome"], e["actor"]["type"]) for e in tokens] == [
        ("failure", "service_account"),
        ("success", "service_account"),
    ]
    with app.app_context():
        stored = repr(db.session.execute(text("SELECT * FROM audit_events")).all())
    for value in (secret, replaced["client_secret"], token):
        assert value not in stored
