"""Issue 12, row 2: granting a role or creating one never hands out a permission the actor lacks."""

from __future__ import annotations

from flask.testing import FlaskClient
from service.models import PERMISSIONS

from tests.support.app import USER_PASSWORD, LoginAs, MakeUser, error_of


def make_role(client: FlaskClient, headers: dict[str, str], name: str, permissions: list[str]) -> None:
    response = client.post("/api/v1/roles", json={"name": name, "permissions": permissions}, headers=headers)
    assert response.status_code == 201, response.get_json()


def test_a_user_holding_only_roles_grant_cannot_grant_itself_admin(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser, login_as: LoginAs
) -> None:
    make_role(client, admin_headers, "granter", ["roles:grant"])
    granter = make_user("mallory", roles=("granter",))
    headers = login_as("mallory", USER_PASSWORD)

    response = client.post(f"/api/v1/users/{granter['id']}/roles", json={"role": "admin"}, headers=headers)
    error = error_of(response, 403)
    # Every permission of role admin but the one mallory holds.
    assert error["message"] == (
        "granting role 'admin' needs permissions you do not hold: "
        f"{sorted(set(PERMISSIONS) - {'roles:grant'})}"
    )
    me = client.get("/api/v1/users/me", headers=headers).get_json()
    assert me["roles"] == ["granter"]
    body = {"username": "sockpuppet", "password": USER_PASSWORD}
    error_of(client.post("/api/v1/users", json=body, headers=headers), 403)


def test_a_granter_may_grant_roles_within_its_own_permissions(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser, login_as: LoginAs
) -> None:
    make_role(client, admin_headers, "granter", ["roles:grant", "users:read"])
    make_role(client, admin_headers, "reader", ["users:read"])
    make_role(client, admin_headers, "nothing", [])
    make_user("gina", roles=("granter",))
    other = make_user("hank")
    headers = login_as("gina", USER_PASSWORD)
    for role in ("reader", "nothing", "granter"):
        response = client.post(f"/api/v1/users/{other['id']}/roles", json={"role": role}, headers=headers)
        assert response.status_code == 200, response.get_json()
    assert response.get_json()["roles"] == ["granter", "nothing", "reader"]


def test_creating_a_role_with_permissions_the_creator_lacks_is_403(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser, login_as: LoginAs
) -> None:
    make_role(client, admin_headers, "role-maker", ["roles:create", "roles:grant"])
    make_user("ivy", roles=("role-maker",))
    headers = login_as("ivy", USER_PASSWORD)

    escalating = {"name": "superuser", "permissions": ["users:create", "roles:grant"]}
    error = error_of(client.post("/api/v1/roles", json=escalating, headers=headers), 403)
    assert error["message"] == "creating role 'superuser' needs permissions you do not hold: ['users:create']"
    # Within its own permissions it may.
    allowed = client.post(
        "/api/v1/roles", json={"name": "sub-granter", "permissions": ["roles:grant"]}, headers=headers
    )
    assert allowed.status_code == 201, allowed.get_json()


def test_the_admin_still_grants_and_creates_anything(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser
) -> None:
    make_role(
        client, admin_headers, "everything", ["users:read", "users:create", "roles:create", "roles:grant"]
    )
    user = make_user("jack", roles=("everything", "admin"))
    assert user["roles"] == ["admin", "everything"]
