"""Creating and listing users, and the permission each /users route requires."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.app import NAME_RULE, NOT_A_STRING, USER_PASSWORD, LoginAs, MakeUser, error_of


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
    assert "password_hash" not in created
    assert USER_PASSWORD not in str(created)
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
        ({"username": "carol", "password": "short"}, "'password': String should have at least 15 characters"),
        ({"username": "carol", "password": 12345678}, f"'password': {NOT_A_STRING}"),
        ({"username": ["carol"], "password": USER_PASSWORD}, f"'username': {NOT_A_STRING}"),
        ({"username": "carol"}, "'password': Field required"),
        (
            {"username": "x y", "password": "short"},
            f"'username': {NAME_RULE}; 'password': String should have at least 15 characters",
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
