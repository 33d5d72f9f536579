"""Creating roles and granting them to users: what a grant gives, and every way a request is refused."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from service.models import PERMISSIONS

from tests.support.app import NAME_RULE, NOT_A_STRING, USER_PASSWORD, LoginAs, MakeUser, error_of


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
            {"name": "r1", "permissions": ["users:explode"]},
            f"unknown permissions ['users:explode']; known: {sorted(PERMISSIONS)}",
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
