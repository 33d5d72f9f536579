"""The /api/v1 behaviour, success and every error case, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from service.extensions import db
from service.models import PERMISSIONS, User
from sqlalchemy import select

from tests.support.app import ADMIN_PASSWORD, USER_PASSWORD, LoginAs, running_app, service_env

MakeUser = Callable[..., dict[str, Any]]


def error_of(response: Any, status: int) -> dict[str, str]:
    """Assert the contract's error shape and status; return the inner error object."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["message"]
    return body["error"]


# --- login -------------------------------------------------------------------------------------


def test_login_returns_a_signed_expiring_token_naming_the_user(
    app: Flask, client: FlaskClient, admin: dict[str, str]
) -> None:
    response = client.post("/api/v1/auth/login", json=admin)
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    claims = jwt.decode(body["access_token"], app.config["SECRET_KEY"], algorithms=["HS256"])
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


NOT_A_JSON_OBJECT = "request body must be a JSON object sent with Content-Type: application/json"
NOT_A_STRING = "Input should be a valid string"
NAME_RULE = "String should contain only letters, digits, '_', '.', '@' or '-'"


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


# --- tokens ------------------------------------------------------------------------------------


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


def forge(claims: dict[str, Any], key: str, algorithm: str = "HS256") -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm=algorithm)}"}


def test_expired_token_is_401(
    app: Flask, client: FlaskClient, admin: dict[str, str], login_as: LoginAs
) -> None:
    user_id = client.get(
        "/api/v1/users/me", headers=login_as(admin["username"], admin["password"])
    ).get_json()["user"]["id"]
    past = datetime.now(UTC) - timedelta(hours=2)
    headers = forge(
        {"sub": str(user_id), "iat": past, "exp": past + timedelta(hours=1)}, app.config["SECRET_KEY"]
    )
    error = error_of(client.get("/api/v1/users/me", headers=headers), 401)
    assert error["message"] == "token expired"


def test_token_signed_with_another_key_is_401(client: FlaskClient, admin: dict[str, str]) -> None:
    now = datetime.now(UTC)
    headers = forge({"sub": "1", "iat": now, "exp": now + timedelta(hours=1)}, "some-other-key-" * 3)
    error = error_of(client.get("/api/v1/users/me", headers=headers), 401)
    assert "signature" in error["message"].lower()


def test_token_without_expiry_is_401(app: Flask, client: FlaskClient, admin: dict[str, str]) -> None:
    headers = forge({"sub": "1", "iat": datetime.now(UTC)}, app.config["SECRET_KEY"])
    error = error_of(client.get("/api/v1/users/me", headers=headers), 401)
    assert "exp" in error["message"]


def test_unsigned_token_is_401(client: FlaskClient, admin: dict[str, str]) -> None:
    now = datetime.now(UTC)
    unsigned = jwt.encode({"sub": "1", "iat": now, "exp": now + timedelta(hours=1)}, None, algorithm="none")
    error_of(client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {unsigned}"}), 401)


def test_token_of_a_deleted_user_is_401(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    headers = forge({"sub": "999999", "iat": now, "exp": now + timedelta(hours=1)}, app.config["SECRET_KEY"])
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


# --- users -------------------------------------------------------------------------------------


def test_admin_creates_a_user_who_can_log_in(
    client: FlaskClient, admin_headers: dict[str, str], login_as: LoginAs
) -> None:
    response = client.post(
        "/api/v1/users", json={"username": "alice", "password": USER_PASSWORD}, headers=admin_headers
    )
    assert response.status_code == 201
    created = response.get_json()
    assert created["username"] == "alice"
    assert created["roles"] == []
    assert "password" not in str(created)
    me = client.get("/api/v1/users/me", headers=login_as("alice", USER_PASSWORD)).get_json()
    assert me == {"user": created, "roles": [], "permissions": []}


def test_creating_a_duplicate_username_is_409(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser
) -> None:
    make_user("bob")
    response = client.post(
        "/api/v1/users", json={"username": "bob", "password": USER_PASSWORD}, headers=admin_headers
    )
    error = error_of(response, 409)
    assert error["code"] == "conflict"
    assert "bob" in error["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"username": "ab", "password": USER_PASSWORD},
            "'username': String should have at least 3 characters",
        ),
        ({"username": "has space", "password": USER_PASSWORD}, f"'username': {NAME_RULE}"),
        # Python's re would let "$" match before a trailing newline; the pattern must not.
        ({"username": "carol\n", "password": USER_PASSWORD}, f"'username': {NAME_RULE}"),
        ({"username": "carol", "password": "short"}, "'password': String should have at least 8 characters"),
        ({"username": "carol", "password": 12345678}, f"'password': {NOT_A_STRING}"),
        ({"username": ["carol"], "password": USER_PASSWORD}, f"'username': {NOT_A_STRING}"),
        ({"username": "carol"}, "'password': Field required"),
        (
            {"username": "x y", "password": "short"},
            f"'username': {NAME_RULE}; 'password': String should have at least 8 characters",
        ),
    ],
    ids=[
        "username-too-short",
        "username-bad-chars",
        "username-trailing-newline",
        "password-too-short",
        "password-number",
        "username-list",
        "no-password",
        "two-bad-fields",
    ],
)
def test_creating_a_user_with_invalid_fields_is_400_naming_each_bad_field(
    client: FlaskClient, admin_headers: dict[str, str], body: dict[str, Any], message: str
) -> None:
    error = error_of(client.post("/api/v1/users", json=body, headers=admin_headers), 400)
    assert error["message"] == message
    listed = client.get("/api/v1/users", headers=admin_headers).get_json()["users"]
    assert [u["username"] for u in listed] == ["admin"]


def test_creating_a_user_ignores_unknown_fields(client: FlaskClient, admin_headers: dict[str, str]) -> None:
    body = {"username": "olga", "password": USER_PASSWORD, "roles": ["admin"], "is_admin": True}
    response = client.post("/api/v1/users", json=body, headers=admin_headers)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["roles"] == []


def test_list_users_returns_users_in_id_order(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser
) -> None:
    make_user("dave")
    make_user("erin")
    response = client.get("/api/v1/users", headers=admin_headers)
    assert response.status_code == 200
    assert [u["username"] for u in response.get_json()["users"]] == ["admin", "dave", "erin"]
    page = client.get("/api/v1/users?limit=1&offset=1", headers=admin_headers).get_json()
    assert [u["username"] for u in page["users"]] == ["dave"]


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "offset=-1"])
def test_list_users_with_bad_paging_is_400(
    client: FlaskClient, admin_headers: dict[str, str], query: str
) -> None:
    error_of(client.get(f"/api/v1/users?{query}", headers=admin_headers), 400)


@pytest.mark.parametrize(
    ("method", "path", "body", "permission"),
    [
        ("get", "/api/v1/users", None, "users:read"),
        ("post", "/api/v1/users", {"username": "zed", "password": USER_PASSWORD}, "users:create"),
        ("post", "/api/v1/roles", {"name": "r", "permissions": []}, "roles:create"),
        ("post", "/api/v1/users/1/roles", {"role": "admin"}, "roles:grant"),
    ],
    ids=["list-users", "create-user", "create-role", "grant-role"],
)
def test_guarded_routes_are_403_without_the_permission_and_401_without_a_token(
    client: FlaskClient,
    make_user: MakeUser,
    login_as: LoginAs,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    permission: str,
) -> None:
    make_user("frank")
    headers = login_as("frank", USER_PASSWORD)
    call = getattr(client, method)
    error = error_of(call(path, json=body, headers=headers), 403)
    assert error["code"] == "forbidden"
    assert permission in error["message"]
    error_of(call(path, json=body), 401)


# --- roles and grants --------------------------------------------------------------------------


def test_a_granted_role_gives_its_permissions(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser, login_as: LoginAs
) -> None:
    created = client.post(
        "/api/v1/roles", json={"name": "auditor", "permissions": ["users:read"]}, headers=admin_headers
    )
    assert created.status_code == 201
    assert created.get_json()["permissions"] == ["users:read"]
    user = make_user("grace", roles=("auditor",))
    assert user["roles"] == ["auditor"]
    headers = login_as("grace", USER_PASSWORD)
    me = client.get("/api/v1/users/me", headers=headers).get_json()
    assert me["roles"] == ["auditor"]
    assert me["permissions"] == ["users:read"]
    assert client.get("/api/v1/users", headers=headers).status_code == 200
    error_of(
        client.post("/api/v1/users", json={"username": "x1x", "password": USER_PASSWORD}, headers=headers),
        403,
    )


def test_granting_a_role_twice_is_a_no_op(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser
) -> None:
    client.post("/api/v1/roles", json={"name": "viewer", "permissions": []}, headers=admin_headers)
    user = make_user("heidi", roles=("viewer",))
    again = client.post(f"/api/v1/users/{user['id']}/roles", json={"role": "viewer"}, headers=admin_headers)
    assert again.status_code == 200
    assert again.get_json()["roles"] == ["viewer"]


def test_creating_a_duplicate_role_is_409(client: FlaskClient, admin_headers: dict[str, str]) -> None:
    error = error_of(client.post("/api/v1/roles", json={"name": "admin"}, headers=admin_headers), 409)
    assert "admin" in error["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"name": "r1", "permissions": ["users:delete"]},
            f"unknown permissions ['users:delete']; known: {sorted(PERMISSIONS)}",
        ),
        ({"name": "r1", "permissions": "users:read"}, "'permissions': Input should be a valid list"),
        ({"name": "r1", "permissions": None}, "'permissions': Input should be a valid list"),
        ({"name": "r1", "permissions": [1]}, f"'permissions[0]': {NOT_A_STRING}"),
        ({"name": "r1", "permissions": ["users:read", None]}, f"'permissions[1]': {NOT_A_STRING}"),
        ({"name": "r1", "permissions": [["users:read"]]}, f"'permissions[0]': {NOT_A_STRING}"),
        (
            {"name": "r1", "permissions": ["users:read", "p" * 65]},
            "'permissions[1]': String should have at most 64 characters",
        ),
        (
            {"name": "r1", "permissions": ["users:read"] * 101},
            "'permissions': List should have at most 100 items after validation, not 101",
        ),
        (
            {"name": "r1", "permissions": list(range(7))},
            "; ".join(f"'permissions[{i}]': {NOT_A_STRING}" for i in range(5)) + "; and 2 more errors",
        ),
        ({"name": "", "permissions": []}, "'name': String should have at least 1 character"),
        ({"name": "r" * 65}, "'name': String should have at most 64 characters"),
        ({"name": "no/slash"}, f"'name': {NAME_RULE}"),
        ({"name": 7}, f"'name': {NOT_A_STRING}"),
        ({"permissions": []}, "'name': Field required"),
        ({"name": "a b", "permissions": [1]}, f"'name': {NAME_RULE}; 'permissions[0]': {NOT_A_STRING}"),
    ],
    ids=[
        "unknown-permission",
        "permissions-not-list",
        "permissions-null",
        "permission-not-string",
        "later-permission-null",
        "permission-nested-list",
        "permission-too-long",
        "too-many-permissions",
        "many-bad-permissions",
        "empty-name",
        "name-too-long",
        "bad-name",
        "name-number",
        "no-name",
        "two-bad-fields",
    ],
)
def test_creating_a_role_with_invalid_fields_is_400_naming_each_bad_field(
    client: FlaskClient, admin_headers: dict[str, str], body: dict[str, Any], message: str
) -> None:
    error = error_of(client.post("/api/v1/roles", json=body, headers=admin_headers), 400)
    assert error["message"] == message


def test_granting_to_an_unknown_user_is_404(client: FlaskClient, admin_headers: dict[str, str]) -> None:
    error = error_of(
        client.post("/api/v1/users/999999/roles", json={"role": "admin"}, headers=admin_headers), 404
    )
    assert error["code"] == "not_found"
    assert "user 999999" in error["message"]


def test_granting_an_unknown_role_is_404(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser
) -> None:
    user = make_user("ivan")
    error = error_of(
        client.post(f"/api/v1/users/{user['id']}/roles", json={"role": "ghost"}, headers=admin_headers), 404
    )
    assert "ghost" in error["message"]


def test_granting_without_a_role_field_is_400(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser
) -> None:
    user = make_user("judy")
    error = error_of(
        client.post(f"/api/v1/users/{user['id']}/roles", json={"roles": "admin"}, headers=admin_headers), 400
    )
    assert error["message"] == "'role': Field required"


@pytest.mark.parametrize(
    ("role", "message"),
    [
        (1, f"'role': {NOT_A_STRING}"),
        (["admin"], f"'role': {NOT_A_STRING}"),
        ("", "'role': String should have at least 1 character"),
        ("r" * 65, "'role': String should have at most 64 characters"),
    ],
    ids=["number", "list", "empty", "too-long"],
)
def test_granting_with_a_bad_role_field_is_400_and_grants_nothing(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser, role: Any, message: str
) -> None:
    user = make_user("judy")
    response = client.post(f"/api/v1/users/{user['id']}/roles", json={"role": role}, headers=admin_headers)
    assert error_of(response, 400)["message"] == message
    users = client.get("/api/v1/users", headers=admin_headers).get_json()["users"]
    assert [u["roles"] for u in users if u["username"] == "judy"] == [[]]


# --- authorize ---------------------------------------------------------------------------------


def test_authorize_is_200_when_the_user_holds_the_permission(
    client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    response = client.post("/api/v1/authorize", json={"permission": "roles:grant"}, headers=admin_headers)
    assert response.status_code == 200
    assert response.get_json()["allowed"] is True
    assert response.get_json()["user"]["username"] == "admin"


def test_authorize_is_403_when_the_user_lacks_the_permission(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser, login_as: LoginAs
) -> None:
    make_user("ken")
    headers = login_as("ken", USER_PASSWORD)
    error = error_of(
        client.post("/api/v1/authorize", json={"permission": "users:read"}, headers=headers), 403
    )
    assert "users:read" in error["message"]
    # An unknown permission is simply not held.
    error_of(client.post("/api/v1/authorize", json={"permission": "x:y"}, headers=admin_headers), 403)


def test_authorize_without_a_token_is_401(client: FlaskClient) -> None:
    error_of(client.post("/api/v1/authorize", json={"permission": "users:read"}), 401)


def test_authorize_without_a_json_body_is_400(client: FlaskClient, admin_headers: dict[str, str]) -> None:
    response = client.post("/api/v1/authorize", data="permission=users:read", headers=admin_headers)
    assert error_of(response, 400)["message"] == NOT_A_JSON_OBJECT


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "'permission': Field required"),
        ({"permission": 123}, f"'permission': {NOT_A_STRING}"),
        ({"permission": ["users:read"]}, f"'permission': {NOT_A_STRING}"),
        ({"permission": ""}, "'permission': String should have at least 1 character"),
        ({"permission": "p" * 65}, "'permission': String should have at most 64 characters"),
    ],
    ids=["missing", "number", "list", "empty", "too-long"],
)
def test_authorize_with_a_bad_permission_field_is_400(
    client: FlaskClient, admin_headers: dict[str, str], body: dict[str, Any], message: str
) -> None:
    response = client.post("/api/v1/authorize", json=body, headers=admin_headers)
    assert error_of(response, 400)["message"] == message


# --- HTTP errors raised by Werkzeug itself -----------------------------------------------------


def test_unknown_path_is_a_json_404(client: FlaskClient) -> None:
    assert error_of(client.get("/api/v1/nothing-here"), 404)["code"] == "not_found"


def test_wrong_method_is_a_json_405_with_allow_header(client: FlaskClient) -> None:
    response = client.delete("/api/v1/auth/login")
    assert error_of(response, 405)["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


def test_oversized_body_is_a_json_413(client: FlaskClient) -> None:
    response = client.post("/api/v1/auth/login", data="x" * (65 * 1024), content_type="application/json")
    assert error_of(response, 413)["code"] == "request_entity_too_large"


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
