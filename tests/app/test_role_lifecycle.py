"""Issue 14, roles: list, read, update, delete, revoke from a user; none of them hands out or takes
away more than the caller holds, and role admin stays whole."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from service.models import PERMISSIONS

from tests.support.app import USER_PASSWORD, LoginAs, MakeUser, error_of


def make_role(
    client: FlaskClient, headers: dict[str, str], name: str, permissions: list[str]
) -> dict[str, Any]:
    response = client.post("/api/v1/roles", json={"name": name, "permissions": permissions}, headers=headers)
    assert response.status_code == 201, response.get_json()
    role: dict[str, Any] = response.get_json()
    return role


def authorize(client: FlaskClient, headers: dict[str, str], permission: str) -> int:
    return client.post("/api/v1/authorize", json={"permission": permission}, headers=headers).status_code


def test_list_and_read_roles(client: FlaskClient, admin_headers: dict[str, str]) -> None:
    readers = make_role(client, admin_headers, "readers", ["users:read"])
    listed = client.get("/api/v1/roles", headers=admin_headers)
    assert listed.status_code == 200
    assert [role["name"] for role in listed.get_json()["roles"]] == ["admin", "readers"]
    assert listed.get_json()["roles"][0]["permissions"] == sorted(PERMISSIONS)
    one = client.get(f"/api/v1/roles/{readers['id']}", headers=admin_headers)
    assert one.get_json() == {
        "id": readers["id"],
        "name": "readers",
        "description": "",
        "permissions": ["users:read"],
    }
    assert error_of(client.get("/api/v1/roles/999999", headers=admin_headers), 404)["message"] == (
        "role 999999 not found"
    )


def test_update_a_role_and_its_holders_get_the_new_permissions_at_once(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser, login_as: LoginAs
) -> None:
    role = make_role(client, admin_headers, "readers", ["users:read"])
    make_user("ada", roles=("readers",))
    headers = login_as("ada", USER_PASSWORD)
    assert authorize(client, headers, "roles:read") == 403
    body = {"name": "viewers", "description": "read-only staff", "permissions": ["users:read", "roles:read"]}
    response = client.patch(f"/api/v1/roles/{role['id']}", json=body, headers=admin_headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "id": role["id"],
        "name": "viewers",
        "description": "read-only staff",
        "permissions": ["roles:read", "users:read"],
    }
    assert authorize(client, headers, "roles:read") == 200
    cut = client.patch(f"/api/v1/roles/{role['id']}", json={"permissions": []}, headers=admin_headers)
    assert cut.get_json()["permissions"] == []
    assert authorize(client, headers, "users:read") == 403


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "nothing to change: send 'name', 'description' and/or 'permissions'"),
        ({"permissions": ["users:explode"]}, 400, "unknown permissions ['users:explode']"),
        ({"name": "bad name"}, 400, "'name': String should contain only letters"),
        ({"nmae": "typo"}, 400, "'nmae': Extra inputs are not permitted"),
        ({"name": "admin"}, 409, "role 'admin' already exists"),
    ],
    ids=["empty", "unknown-permission", "bad-name", "misspelt-field", "name-taken"],
)
def test_a_bad_role_update_names_what_is_wrong(
    client: FlaskClient, admin_headers: dict[str, str], body: dict[str, Any], status: int, message: str
) -> None:
    role = make_role(client, admin_headers, "editors", [])
    error = error_of(client.patch(f"/api/v1/roles/{role['id']}", json=body, headers=admin_headers), status)
    assert error["message"].startswith(message), error


def test_role_admin_cannot_be_renamed_cut_down_or_deleted(
    client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    admin_id = next(r["id"] for r in client.get("/api/v1/roles", headers=admin_headers).get_json()["roles"])
    renamed = client.patch(f"/api/v1/roles/{admin_id}", json={"name": "root"}, headers=admin_headers)
    assert error_of(renamed, 409)["message"] == "role 'admin' holds every permission and cannot be renamed"
    cut = client.patch(
        f"/api/v1/roles/{admin_id}", json={"permissions": ["users:read"]}, headers=admin_headers
    )
    error_of(cut, 409)
    error_of(client.delete(f"/api/v1/roles/{admin_id}", headers=admin_headers), 409)
    described = client.patch(
        f"/api/v1/roles/{admin_id}", json={"description": "everything"}, headers=admin_headers
    )
    assert described.status_code == 200
    assert described.get_json()["permissions"] == sorted(PERMISSIONS)


def test_deleting_a_role_takes_it_from_its_holders_at_once(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser, login_as: LoginAs
) -> None:
    role = make_role(client, admin_headers, "readers", ["users:read"])
    user = make_user("bea", roles=("readers",))
    headers = login_as("bea", USER_PASSWORD)
    assert authorize(client, headers, "users:read") == 200
    response = client.delete(f"/api/v1/roles/{role['id']}", headers=admin_headers)
    assert response.status_code == 204
    assert authorize(client, headers, "users:read") == 403
    assert client.get(f"/api/v1/users/{user['id']}", headers=admin_headers).get_json()["roles"] == []
    error_of(client.get(f"/api/v1/roles/{role['id']}", headers=admin_headers), 404)
    error_of(client.delete(f"/api/v1/roles/{role['id']}", headers=admin_headers), 404)


def test_revoking_a_role_takes_its_permissions_at_once_and_twice_changes_nothing(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser, login_as: LoginAs
) -> None:
    role = make_role(client, admin_headers, "readers", ["users:read"])
    make_role(client, admin_headers, "granters", ["roles:grant"])
    user = make_user("cyd", roles=("readers", "granters"))
    headers = login_as("cyd", USER_PASSWORD)
    url = f"/api/v1/users/{user['id']}/roles/{role['id']}"
    response = client.delete(url, headers=admin_headers)
    assert response.status_code == 200
    assert response.get_json()["roles"] == ["granters"]
    assert authorize(client, headers, "users:read") == 403
    assert client.delete(url, headers=admin_headers).get_json()["roles"] == ["granters"]
    error_of(client.delete(f"/api/v1/users/999999/roles/{role['id']}", headers=admin_headers), 404)
    error_of(client.delete(f"/api/v1/users/{user['id']}/roles/999999", headers=admin_headers), 404)


def test_nobody_changes_deletes_or_revokes_a_role_with_permissions_it_lacks(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser, login_as: LoginAs
) -> None:
    manager = ["roles:read", "roles:update", "roles:delete", "roles:revoke", "users:read"]
    make_role(client, admin_headers, "role-manager", manager)
    powerful = make_role(client, admin_headers, "creators", ["users:create"])
    mine = make_role(client, admin_headers, "readers", ["users:read"])
    make_user("dan", roles=("role-manager",))
    victim = make_user("eve", roles=("creators", "admin"))
    headers = login_as("dan", USER_PASSWORD)

    # Adding a permission it lacks to a role it could otherwise change: escalation.
    grow = client.patch(
        f"/api/v1/roles/{mine['id']}", json={"permissions": ["users:create"]}, headers=headers
    )
    assert (
        error_of(grow, 403)["message"]
        == "changing role 'readers' needs permissions you do not hold: ['users:create']"
    )
    # Changing, deleting or revoking a role holding what it lacks: taking from the more powerful.
    for response in (
        client.patch(f"/api/v1/roles/{powerful['id']}", json={"permissions": []}, headers=headers),
        client.patch(f"/api/v1/roles/{powerful['id']}", json={"name": "renamed"}, headers=headers),
        client.delete(f"/api/v1/roles/{powerful['id']}", headers=headers),
        client.delete(f"/api/v1/users/{victim['id']}/roles/{powerful['id']}", headers=headers),
    ):
        assert error_of(response, 403)["message"].endswith(
            "needs permissions you do not hold: ['users:create']"
        )
    # Its own kind of role it may manage.
    assert (
        client.patch(f"/api/v1/roles/{mine['id']}", json={"description": "x"}, headers=headers).status_code
        == 200
    )
    assert client.delete(f"/api/v1/roles/{mine['id']}", headers=headers).status_code == 204


@pytest.mark.parametrize(
    ("method", "path", "permission"),
    [
        ("get", "/api/v1/roles", "roles:read"),
        ("get", "/api/v1/roles/1", "roles:read"),
        ("patch", "/api/v1/roles/1", "roles:update"),
        ("delete", "/api/v1/roles/1", "roles:delete"),
        ("delete", "/api/v1/users/1/roles/1", "roles:revoke"),
    ],
)
def test_each_role_route_needs_its_permission_and_a_token(
    client: FlaskClient, make_user: MakeUser, login_as: LoginAs, method: str, path: str, permission: str
) -> None:
    make_user("finn")
    send = getattr(client, method)
    kwargs: dict[str, Any] = {"json": {"description": "x"}} if method == "patch" else {}
    assert error_of(send(path, **kwargs), 401)["message"].startswith("missing bearer token")
    response = send(path, headers=login_as("finn", USER_PASSWORD), **kwargs)
    assert error_of(response, 403)["message"] == f"missing permission {permission!r}"
