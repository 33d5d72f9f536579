"""Bearer tokens: /users/me for a valid one, 401 for every missing, forged, expired or stale one."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient
from service.models import PERMISSIONS

from tests.support.app import LoginAs, error_of, running_app, service_env, sign


def test_me_lists_the_users_roles_and_permissions(client: FlaskClient, admin_headers: dict[str, str]) -> None:
    response = client.get("/api/v1/users/me", headers=admin_headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["user"]["username"] == "admin"
    assert body["roles"] == ["admin"]
    assert body["permissions"] == sorted(PERMISSIONS)


def test_missing_token_is_401_with_a_bearer_challenge(client: FlaskClient) -> None:
    response = client.get("/api/v1/users/me")
    error = error_of(response, 401)
    assert "missing bearer token" in error["message"]
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer ", "Basic YWRtaW46cHc=", "Bearer not.a.jwt", "Token abc"],
)
def test_malformed_authorization_header_is_401(client: FlaskClient, authorization: str) -> None:
    error_of(client.get("/api/v1/users/me", headers={"Authorization": authorization}), 401)


def forge(app: Flask, claims: dict[str, Any]) -> dict[str, str]:
    """The claims signed with the service's own current key: only the claims are wrong."""
    return {"Authorization": f"Bearer {sign(app, {'jti': 'forged-in-test', **claims})}"}


def test_expired_token_is_401(
    app: Flask, client: FlaskClient, admin: dict[str, str], login_as: LoginAs
) -> None:
    user_id = client.get(
        "/api/v1/users/me", headers=login_as(admin["username"], admin["password"])
    ).get_json()["user"]["id"]
    past = datetime.now(UTC) - timedelta(hours=2)
    headers = forge(app, {"sub": str(user_id), "iat": past, "exp": past + timedelta(hours=1)})
    error = error_of(client.get("/api/v1/users/me", headers=headers), 401)
    assert error["message"] == "token expired"


def test_token_signed_with_another_key_under_a_known_kid_is_401(app: Flask, client: FlaskClient) -> None:
    now = datetime.now(UTC)
    kid = jwt.get_unverified_header(sign(app, {"sub": "1"}))["kid"]
    claims = {"sub": "1", "ver": "v", "jti": "j", "iat": now, "exp": now + timedelta(hours=1)}
    token = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid})
    error = error_of(client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}), 401)
    assert "signature" in error["message"].lower()


def test_token_with_an_unknown_kid_is_401(client: FlaskClient) -> None:
    now = datetime.now(UTC)
    claims = {"sub": "1", "iat": now, "exp": now + timedelta(hours=1)}
    token = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "not-a-key"})
    error = error_of(client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}), 401)
    assert error["message"] == "invalid token: signed by an unknown key"


def test_token_without_a_kid_is_401(client: FlaskClient) -> None:
    now = datetime.now(UTC)
    claims = {"sub": "1", "iat": now, "exp": now + timedelta(hours=1)}
    token = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA")
    error = error_of(client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}), 401)
    assert error["message"] == "invalid token: no key id (kid) in its header"


def test_an_hs256_token_signed_with_the_secret_key_is_401(app: Flask, client: FlaskClient) -> None:
    """The symmetric tokens of before are refused: no algorithm but EdDSA is accepted."""
    now = datetime.now(UTC)
    claims = {"sub": "1", "ver": "v", "jti": "j", "iat": now, "exp": now + timedelta(hours=1)}
    kid = jwt.get_unverified_header(sign(app, {"sub": "1"}))["kid"]
    token = jwt.encode(claims, app.config["SECRET_KEY"], algorithm="HS256", headers={"kid": kid})
    error = error_of(client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}), 401)
    assert error["message"] == "invalid token: algorithm 'HS256' is not allowed, only EdDSA"


def test_token_without_expiry_is_401(app: Flask, client: FlaskClient, admin: dict[str, str]) -> None:
    headers = forge(app, {"sub": "1", "iat": datetime.now(UTC)})
    error = error_of(client.get("/api/v1/users/me", headers=headers), 401)
    assert "exp" in error["message"]


def test_unsigned_token_is_401(client: FlaskClient, admin: dict[str, str]) -> None:
    now = datetime.now(UTC)
    unsigned = jwt.encode({"sub": "1", "iat": now, "exp": now + timedelta(hours=1)}, "", algorithm="none")
    error_of(client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {unsigned}"}), 401)


def test_token_of_a_deleted_user_is_401(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    claims = {"sub": "999999", "ver": "v", "iss": "microservice-model", "aud": "microservice-model"}
    headers = forge(app, {**claims, "iat": now, "exp": now + timedelta(hours=1)})
    error = error_of(client.get("/api/v1/users/me", headers=headers), 401)
    assert "no longer exists" in error["message"]


def test_token_lifetime_follows_token_ttl_seconds(
    app: Flask, client: FlaskClient, admin: dict[str, str], migrated_database: tuple[Path, str]
) -> None:
    data_dir, url = migrated_database
    with running_app(service_env(data_dir, url, TOKEN_TTL_SECONDS="1")) as short_lived:
        short_client = short_lived.test_client()
        login = short_client.post("/api/v1/auth/login", json=admin).get_json()
        assert login["expires_in"] == 1
        headers = {"Authorization": f"Bearer {login['access_token']}"}
        assert short_client.get("/api/v1/users/me", headers=headers).status_code == 200
        time.sleep(2.1)
        error = error_of(short_client.get("/api/v1/users/me", headers=headers), 401)
        assert error["message"] == "token expired"
