"""Issue 15: /authorize answers from one SQL statement, and still refuses a revoked, disabled or
deleted user's token on the very next request: a worker remembers only that a token's signature and
claims checked out, never anything that can revoke it, and a remembered token still expires on time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jwt
from flask import Flask
from flask.testing import FlaskClient
from service.extensions import db
from service.models import User
from sqlalchemy import delete, event

from tests.support.app import USER_PASSWORD, LoginAs, MakeUser, error_of


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """The SQL statements the app's engine runs inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def authorize(client: FlaskClient, headers: dict[str, str], permission: str = "users:read") -> Any:
    return client.post("/api/v1/authorize", json={"permission": permission}, headers=headers)


def test_authorize_reads_the_database_once(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    # The first token a process sees under a kid loads that public key once (kept per process).
    assert authorize(client, admin_headers).status_code == 200
    for permission, status, audited in (("users:read", 200, 0), ("no:such", 403, 1)):
        with statements(app) as seen:
            assert authorize(client, admin_headers, permission).status_code == status
        reads = [statement for statement in seen if not statement.startswith("INSERT INTO audit_events")]
        assert len(reads) == 1, seen
        assert len(seen) - len(reads) == audited, seen  # a denial is written to the audit trail (issue 14)


def test_a_granted_role_counts_at_once(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser, login_as: LoginAs
) -> None:
    user = make_user("tess")
    headers = login_as("tess", USER_PASSWORD)
    error_of(authorize(client, headers, "roles:create"), 403)
    role = client.post(
        "/api/v1/roles", json={"name": "makers", "permissions": ["roles:create"]}, headers=admin_headers
    )
    assert role.status_code == 201, role.get_json()
    granted = client.post(f"/api/v1/users/{user['id']}/roles", json={"role": "makers"}, headers=admin_headers)
    assert granted.status_code == 200, granted.get_json()
    assert authorize(client, headers, "roles:create").get_json()["user"] == {
        "id": user["id"],
        "username": "tess",
    }
    error_of(authorize(client, headers, "users:read"), 403)


def test_revoke_password_change_and_disable_refuse_the_next_authorize(
    app: Flask, client: FlaskClient, make_user: MakeUser, login_as: LoginAs
) -> None:
    make_user("uma", roles=("admin",))
    cli = app.test_cli_runner()
    for command, env in (
        (["revoke-tokens", "uma"], {}),
        (["set-password", "uma"], {"NEW_PASSWORD": USER_PASSWORD}),
        (["disable-user", "uma"], {}),
    ):
        headers = login_as("uma", USER_PASSWORD)
        assert authorize(client, headers).status_code == 200
        result = cli.invoke(args=command, env=env)
        assert result.exit_code == 0, result.output
        error = error_of(authorize(client, headers), 401)
        assert error["message"].startswith("invalid token: revoked"), error
        # A bad body does not turn the revoked token's 401 into a 400.
        error_of(client.post("/api/v1/authorize", json={}, headers=headers), 401)


def test_a_deleted_users_token_is_refused(
    app: Flask, client: FlaskClient, make_user: MakeUser, login_as: LoginAs
) -> None:
    make_user("vera")
    headers = login_as("vera", USER_PASSWORD)
    error_of(authorize(client, headers), 403)
    with app.app_context():
        db.session.execute(delete(User).where(User.username == "vera"))
        db.session.commit()
    assert error_of(authorize(client, headers), 401)["message"] == "invalid token: the user no longer exists"


def test_a_token_verified_before_still_expires_on_time(
    app: Flask, client: FlaskClient, admin: dict[str, str]
) -> None:
    app.config["TOKEN_TTL_SECONDS"] = 2
    token = client.post("/api/v1/auth/login", json=admin).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert authorize(client, headers).status_code == 200  # verified once, and remembered
    assert authorize(client, headers).status_code == 200
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, expires - time.time()) + 0.05)
    assert error_of(authorize(client, headers), 401)["message"] == "token expired"
