"""POST /api/v1/auth/login: a signed token for good credentials, 401 or 400 otherwise, and hash upgrades."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from argon2 import PasswordHasher
from flask import Flask, session
from flask.testing import FlaskClient
from service.extensions import db
from service.models import User
from sqlalchemy import select

from tests.support.app import (
    ADMIN_PASSWORD,
    NOT_A_JSON_OBJECT,
    NOT_A_STRING,
    USER_PASSWORD,
    error_of,
    public_key_of,
)


def test_login_returns_a_signed_expiring_token_naming_the_user(
    app: Flask, client: FlaskClient, admin: dict[str, str]
) -> None:
    response = client.post("/api/v1/auth/login", json=admin)
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    token = body["access_token"]
    claims = jwt.decode(token, public_key_of(app, token), algorithms=["EdDSA"], audience="microservice-model")
    assert claims["exp"] - claims["iat"] == 3600
    me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert str(me.get_json()["user"]["id"]) == claims["sub"]


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "admin", "password": "not-the-password"},
        {"username": "nobody", "password": ADMIN_PASSWORD},
    ],
    ids=["wrong-password", "unknown-user"],
)
def test_login_with_bad_credentials_is_401(
    client: FlaskClient, admin: dict[str, str], credentials: dict[str, str]
) -> None:
    error = error_of(client.post("/api/v1/auth/login", json=credentials), 401)
    assert error["code"] == "unauthorized"
    assert error["message"] == "wrong username or password"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": "username=admin", "content_type": "text/plain"}, NOT_A_JSON_OBJECT),
        ({"data": "{not json", "content_type": "application/json"}, NOT_A_JSON_OBJECT),
        ({"data": b"\xff\xfe", "content_type": "application/json"}, NOT_A_JSON_OBJECT),
        ({"json": ["admin", "pw"]}, NOT_A_JSON_OBJECT),
        ({"json": "admin"}, NOT_A_JSON_OBJECT),
        ({}, NOT_A_JSON_OBJECT),
        ({"json": {"password": "x"}}, "'username': Field required"),
        ({"json": {}}, "'username': Field required; 'password': Field required"),
        ({"json": {"username": 42, "password": "x"}}, f"'username': {NOT_A_STRING}"),
        ({"json": {"username": "admin", "password": None}}, f"'password': {NOT_A_STRING}"),
        (
            {"json": {"username": True, "password": 1.5}},
            f"'username': {NOT_A_STRING}; 'password': {NOT_A_STRING}",
        ),
        ({"json": {"username": "", "password": "x"}}, "'username': String should have at least 1 character"),
        (
            {"json": {"username": "a" * 65, "password": "x"}},
            "'username': String should have at most 64 characters",
        ),
        (
            {"json": {"username": "admin", "password": "x" * 129}},
            "'password': String should have at most 128 characters",
        ),
    ],
    ids=[
        "text-plain",
        "broken-json",
        "not-utf8",
        "json-array",
        "json-string",
        "no-body",
        "missing-username",
        "empty-object",
        "username-number",
        "password-null",
        "bool-and-float",
        "username-empty",
        "username-too-long",
        "password-too-long",
    ],
)
def test_login_with_malformed_body_is_400_naming_each_bad_field(
    client: FlaskClient, kwargs: dict[str, Any], message: str
) -> None:
    error = error_of(client.post("/api/v1/auth/login", **kwargs), 400)
    assert error["code"] == "bad_request"
    assert error["message"] == message


def test_login_upgrades_a_hash_made_with_weaker_parameters(app: Flask, client: FlaskClient) -> None:
    weak_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(USER_PASSWORD)
    with app.app_context():
        db.session.add(User(username="legacy", password_hash=weak_hash))
        db.session.commit()
    response = client.post("/api/v1/auth/login", json={"username": "legacy", "password": USER_PASSWORD})
    assert response.status_code == 200
    with app.app_context():
        stored = db.session.scalar(select(User.password_hash).where(User.username == "legacy"))
    assert stored is not None
    assert stored != weak_hash
    assert not PasswordHasher().check_needs_rehash(stored)
    assert PasswordHasher().verify(stored, USER_PASSWORD)


def test_the_service_keeps_no_cookie_session(app: Flask, client: FlaskClient, admin: dict[str, str]) -> None:
    """Bearer tokens only: no response sets a cookie, a session cookie sent in is ignored, and a view
    that tried to write the session would fail loudly instead of issuing one (issue 15 took Flask's
    cookie session out of every request)."""
    forged = {"Cookie": "session=eyJ1c2VyX2lkIjoxfQ.forged.signature"}
    response = client.post("/api/v1/auth/login", json=admin, headers=forged)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    me = client.get("/api/v1/users/me", headers=forged)
    assert me.status_code == 401, "a session cookie must not stand in for a bearer token"
    with app.test_request_context("/"):
        assert session.get("user_id") is None
        with pytest.raises(RuntimeError):
            session["user_id"] = 1
