"""Logout revokes exactly the token it is called with, on /users/me and on /authorize, until that
token would have expired; the denylist forgets expired entries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
from flask import Flask
from flask.testing import FlaskClient
from service.extensions import db
from service.models import AuditEvent, RevokedToken
from sqlalchemy import select

from tests.support.app import USER_PASSWORD, LoginAs, MakeUser, error_of


def test_logout_revokes_the_token_it_is_called_with_and_no_other(
    client: FlaskClient, make_user: MakeUser, login_as: LoginAs
) -> None:
    make_user("ursula", roles=("admin",))
    first, second = login_as("ursula", USER_PASSWORD), login_as("ursula", USER_PASSWORD)
    response = client.post("/api/v1/auth/logout", headers=first)
    assert response.status_code == 204
    assert response.get_data() == b""
    assert response.headers["Cache-Control"] == "no-store"
    assert (
        error_of(client.get("/api/v1/users/me", headers=first), 401)["message"] == "invalid token: logged out"
    )
    authorize = client.post("/api/v1/authorize", json={"permission": "users:read"}, headers=first)
    assert error_of(authorize, 401)["message"] == "invalid token: logged out"
    assert client.get("/api/v1/users/me", headers=second).status_code == 200
    again = client.post("/api/v1/authorize", json={"permission": "users:read"}, headers=second)
    assert again.status_code == 200


def test_logout_is_on_the_audit_trail_by_token_id_never_the_token(
    app: Flask, client: FlaskClient, make_user: MakeUser, login_as: LoginAs
) -> None:
    user = make_user("xavier")
    headers = login_as("xavier", USER_PASSWORD)
    token = headers["Authorization"].split(" ", 1)[1]
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    with app.app_context():
        [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.logout")).all()
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    assert (event.outcome, event.actor_type, event.actor_id) == ("success", "user", user["id"])
    assert (event.target_type, event.target_id) == ("token", jti)
    assert token not in str(event.details)


def test_logging_out_twice_is_401(client: FlaskClient, make_user: MakeUser, login_as: LoginAs) -> None:
    make_user("victor")
    headers = login_as("victor", USER_PASSWORD)
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert error_of(client.post("/api/v1/auth/logout", headers=headers), 401)["message"] == (
        "invalid token: logged out"
    )


def test_logout_without_a_token_is_401(client: FlaskClient) -> None:
    response = client.post("/api/v1/auth/logout")
    assert "missing bearer token" in error_of(response, 401)["message"]
    error_of(client.post("/api/v1/auth/logout", headers={"Authorization": "Bearer not.a.jwt"}), 401)


def test_the_denylist_keeps_a_token_until_it_expires_then_forgets_it(
    app: Flask, client: FlaskClient, make_user: MakeUser, login_as: LoginAs
) -> None:
    make_user("wanda")
    with app.app_context():
        db.session.add(RevokedToken(jti="long-expired", expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        db.session.commit()
    headers = login_as("wanda", USER_PASSWORD)
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    with app.app_context():
        rows = db.session.execute(select(RevokedToken.jti, RevokedToken.expires_at)).all()
    assert len(rows) == 1  # the expired entry is gone, this token's is kept
    expires_at = rows[0].expires_at if rows[0].expires_at.tzinfo else rows[0].expires_at.replace(tzinfo=UTC)
    assert timedelta(seconds=3590) < expires_at - datetime.now(UTC) <= timedelta(seconds=3600)
