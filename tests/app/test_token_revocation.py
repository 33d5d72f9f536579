"""Issue 12, rows 6, 8 and 11: every token carries its user's token version, which a password change,
a disable or a revoke replaces; iss and aud are checked; token answers are never cached; a token in
the query string is never read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from service.extensions import db
from service.models import User
from sqlalchemy import delete, select

from tests.support.app import USER_PASSWORD, LoginAs, MakeUser, error_of, sign

NEW_PASSWORD = "brand-new-pass-2"


def me(client: FlaskClient, headers: dict[str, str]) -> Any:
    return client.get("/api/v1/users/me", headers=headers)


def test_changing_the_password_revokes_every_older_token(
    client: FlaskClient, make_user: MakeUser, login_as: LoginAs
) -> None:
    """Row 8: the old token kept working after the password hash changed."""
    make_user("olive")
    first, second = login_as("olive", USER_PASSWORD), login_as("olive", USER_PASSWORD)
    body = {"current_password": USER_PASSWORD, "new_password": NEW_PASSWORD}
    changed = client.put("/api/v1/users/me/password", json=body, headers=first)
    assert changed.status_code == 200, changed.get_json()
    assert changed.headers["Cache-Control"] == "no-store"
    for old in (first, second):
        error = error_of(me(client, old), 401)
        assert error["message"].startswith("invalid token: revoked")
    fresh = {"Authorization": f"Bearer {changed.get_json()['access_token']}"}
    assert me(client, fresh).status_code == 200
    error_of(client.post("/api/v1/auth/login", json={"username": "olive", "password": USER_PASSWORD}), 401)
    assert me(client, login_as("olive", NEW_PASSWORD)).status_code == 200


def test_changing_the_password_needs_the_current_one(
    client: FlaskClient, make_user: MakeUser, login_as: LoginAs
) -> None:
    make_user("peggy")
    headers = login_as("peggy", USER_PASSWORD)
    body = {"current_password": "wrong-password", "new_password": NEW_PASSWORD}
    error_of(client.put("/api/v1/users/me/password", json=body, headers=headers), 401)
    assert me(client, headers).status_code == 200


def test_an_operator_set_password_disable_and_revoke_all_void_the_tokens(
    app: Flask, client: FlaskClient, make_user: MakeUser, login_as: LoginAs
) -> None:
    make_user("quinn")
    cli = app.test_cli_runner()

    headers = login_as("quinn", USER_PASSWORD)
    result = cli.invoke(args=["revoke-tokens", "quinn"])
    assert result.exit_code == 0, result.output
    error_of(me(client, headers), 401)

    headers = login_as("quinn", USER_PASSWORD)
    result = cli.invoke(args=["set-password", "quinn"], env={"NEW_PASSWORD": NEW_PASSWORD})
    assert result.exit_code == 0, result.output
    error_of(me(client, headers), 401)

    headers = login_as("quinn", NEW_PASSWORD)
    result = cli.invoke(args=["disable-user", "quinn"])
    assert result.exit_code == 0, result.output
    error_of(me(client, headers), 401)
    login = client.post("/api/v1/auth/login", json={"username": "quinn", "password": NEW_PASSWORD})
    assert error_of(login, 403)["message"] == "this user is disabled"

    result = cli.invoke(args=["enable-user", "quinn"])
    assert result.exit_code == 0, result.output
    error_of(me(client, headers), 401)  # enabling does not bring old tokens back
    assert me(client, login_as("quinn", NEW_PASSWORD)).status_code == 200


def test_a_new_user_given_a_deleted_users_id_does_not_accept_its_tokens(
    app: Flask, client: FlaskClient, make_user: MakeUser, login_as: LoginAs
) -> None:
    """Row 6: SQLite hands a deleted last row's id to the next row; the token version tells them apart."""
    old = make_user("rupert")
    old_headers = login_as("rupert", USER_PASSWORD)
    with app.app_context():
        db.session.execute(delete(User).where(User.id == old["id"]))
        db.session.commit()
    new = make_user("sybil")
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        assert new["id"] == old["id"]  # the reuse really happens here
    error = error_of(me(client, old_headers), 401)
    assert error["message"].startswith(("invalid token: revoked", "invalid token: the user no longer exists"))
    with app.app_context():
        assert db.session.scalar(select(User.token_version).where(User.id == new["id"]))


def claims_for(app: Flask, user_id: int, **changes: Any) -> dict[str, Any]:
    with app.app_context():
        version = db.session.scalar(select(User.token_version).where(User.id == user_id))
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "ver": version,
        "iss": "microservice-model",
        "aud": "microservice-model",
        "iat": now,
        "exp": now + timedelta(hours=1),
        "jti": "forged-in-test",
    }
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({}, None),
        ({"iss": "someone-else"}, "invalid token: Invalid issuer"),
        ({"iss": None}, 'invalid token: Token is missing the "iss" claim'),
        ({"aud": "another-service"}, "invalid token: Audience doesn't match"),
        ({"aud": None}, 'invalid token: Token is missing the "aud" claim'),
        ({"ver": None}, "invalid token: no token version (log in again)"),
        ({"ver": "0" * 32}, "invalid token: revoked"),
    ],
    ids=["valid", "other-issuer", "no-issuer", "other-audience", "no-audience", "no-version", "old-version"],
)
def test_issuer_audience_and_version_are_checked(
    app: Flask, client: FlaskClient, make_user: MakeUser, changes: dict[str, Any], message: str | None
) -> None:
    user = make_user("trent")
    token = sign(app, claims_for(app, user["id"], **changes))
    response = me(client, {"Authorization": f"Bearer {token}"})
    if message is None:
        assert response.status_code == 200
    else:
        assert error_of(response, 401)["message"].startswith(message)


def test_token_answers_are_never_cached(client: FlaskClient, admin: dict[str, str]) -> None:
    """Row 11."""
    response = client.post("/api/v1/auth/login", json=admin)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    failed = client.post("/api/v1/auth/login", json={"username": "admin", "password": "wrong-one"})
    assert failed.headers["Cache-Control"] == "no-store"


def test_a_token_in_the_query_string_is_not_read(client: FlaskClient, admin_headers: dict[str, str]) -> None:
    """Row 11: only the Authorization header carries a token."""
    token = admin_headers["Authorization"].split(" ", 1)[1]
    for parameter in ("access_token", "token"):
        response = client.get(f"/api/v1/users/me?{parameter}={token}")
        assert "missing bearer token" in error_of(response, 401)["message"]
        response = client.post(f"/api/v1/authorize?{parameter}={token}", json={"permission": "users:read"})
        error_of(response, 401)
