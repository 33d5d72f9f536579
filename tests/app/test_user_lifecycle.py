"""Issue 14, users: read one user, update it (display name, disable/enable), soft-delete it; a
disabled or deleted user's tokens stop working on the very next request; nobody acts on an account
more powerful than its own."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from service.extensions import db
from service.models import PERMISSIONS, User
from sqlalchemy import select

from tests.support.app import USER_PASSWORD, LoginAs, MakeUser, error_of


def authorize(client: FlaskClient, headers: dict[str, str], permission: str = "users:read") -> Any:
    return client.post("/api/v1/authorize", json={"permission": permission}, headers=headers)


def make_role(client: FlaskClient, headers: dict[str, str], name: str, permissions: list[str]) -> None:
    response = client.post("/api/v1/roles", json={"name": name, "permissions": permissions}, headers=headers)
    assert response.status_code == 201, response.get_json()


def test_read_a_user_by_id(client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser) -> None:
    user = make_user("rita")
    response = client.get(f"/api/v1/users/{user['id']}", headers=admin_headers)
    assert response.status_code == 200
    assert response.get_json() == user
    assert user["display_name"] == ""
    assert user["kind"] == "user"
    assert user["must_change_password"] is False
    assert response.headers["Cache-Control"] == "no-store"
    assert error_of(client.get("/api/v1/users/999999", headers=admin_headers), 404)["message"] == (
        "user 999999 not found"
    )
    error_of(client.get("/api/v1/users/99999999999", headers=admin_headers), 404)
    # Beyond the largest id: 404 for every method of the path (Werkzeug used to answer 405 for some).
    for method in ("get", "patch", "delete"):
        response = getattr(client, method)("/api/v1/users/2147483648", json={}, headers=admin_headers)
        assert error_of(response, 404)["message"] == "no such id 2147483648: ids are 1 to 2147483647"


def test_update_the_display_name(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser
) -> None:
    user = make_user("sam")
    response = client.patch(
        f"/api/v1/users/{user['id']}", json={"display_name": "Sam Ödegaard"}, headers=admin_headers
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["display_name"] == "Sam Ödegaard"
    assert client.get(f"/api/v1/users/{user['id']}", headers=admin_headers).get_json()["display_name"] == (
        "Sam Ödegaard"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "nothing to change: send 'display_name' and/or 'disabled'"),
        ({"disabled": "yes"}, "'disabled': Input should be a valid boolean"),
        ({"display_name": "a\nb"}, "'display_name': String should match pattern"),
        ({"display_name": "x" * 129}, "'display_name': String should have at most 128 characters"),
        ({"disable": True}, "'disable': Extra inputs are not permitted"),
    ],
    ids=["empty", "not-a-boolean", "control-character", "too-long", "misspelt-field"],
)
def test_a_bad_update_is_400_naming_the_field(
    client: FlaskClient,
    admin_headers: dict[str, str],
    make_user: MakeUser,
    body: dict[str, Any],
    message: str,
) -> None:
    user = make_user("tom")
    error = error_of(client.patch(f"/api/v1/users/{user['id']}", json=body, headers=admin_headers), 400)
    assert error["message"].startswith(message), error


def test_disabling_refuses_the_users_tokens_at_once_and_enabling_lets_it_log_in_again(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser, login_as: LoginAs
) -> None:
    user = make_user("uli", roles=("admin",))
    headers = login_as("uli", USER_PASSWORD)
    assert authorize(client, headers).status_code == 200
    response = client.patch(f"/api/v1/users/{user['id']}", json={"disabled": True}, headers=admin_headers)
    assert response.status_code == 200
    assert response.get_json()["disabled"] is True
    assert error_of(authorize(client, headers), 401)["message"].startswith("invalid token: revoked")
    error_of(client.get("/api/v1/users/me", headers=headers), 401)
    login = client.post("/api/v1/auth/login", json={"username": "uli", "password": USER_PASSWORD})
    assert error_of(login, 403)["message"] == "this user is disabled"

    enabled = client.patch(f"/api/v1/users/{user['id']}", json={"disabled": False}, headers=admin_headers)
    assert enabled.get_json()["disabled"] is False
    error_of(authorize(client, headers), 401)  # the old token stays revoked
    assert authorize(client, login_as("uli", USER_PASSWORD)).status_code == 200


def test_delete_is_soft_and_refuses_the_users_tokens_at_once(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser, login_as: LoginAs
) -> None:
    user = make_user("vic", roles=("admin",))
    headers = login_as("vic", USER_PASSWORD)
    assert authorize(client, headers).status_code == 200

    response = client.delete(f"/api/v1/users/{user['id']}", headers=admin_headers)
    assert response.status_code == 204
    assert response.get_data() == b""
    assert error_of(authorize(client, headers), 401)["message"].startswith("invalid token: revoked")
    error_of(client.get(f"/api/v1/users/{user['id']}", headers=admin_headers), 404)
    error_of(client.delete(f"/api/v1/users/{user['id']}", headers=admin_headers), 404)
    error_of(
        client.patch(f"/api/v1/users/{user['id']}", json={"disabled": False}, headers=admin_headers), 404
    )
    grant = client.post(f"/api/v1/users/{user['id']}/roles", json={"role": "admin"}, headers=admin_headers)
    error_of(grant, 404)
    listed = client.get("/api/v1/users", headers=admin_headers).get_json()["users"]
    assert "vic" not in [u["username"] for u in listed]
    # Logging in answers as for a name that never existed.
    login = client.post("/api/v1/auth/login", json={"username": "vic", "password": USER_PASSWORD})
    assert error_of(login, 401)["message"] == "wrong username or password"
    # The name is never given to someone else (the audit trail and old logs keep meaning one person).
    again = client.post(
        "/api/v1/users", json={"username": "VIC", "password": USER_PASSWORD}, headers=admin_headers
    )
    error_of(again, 409)
    with app.app_context():
        row = db.session.scalar(select(User).where(User.username == "vic"))
        assert row is not None
        assert row.deleted_at is not None
        assert row.disabled_at is not None
        assert row.roles == []


def test_an_administrator_cannot_disable_or_delete_itself(
    client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    me = client.get("/api/v1/users/me", headers=admin_headers).get_json()["user"]
    disable = client.patch(f"/api/v1/users/{me['id']}", json={"disabled": True}, headers=admin_headers)
    assert (
        error_of(disable, 403)["message"] == "you cannot disable your own account; another administrator must"
    )
    delete = client.delete(f"/api/v1/users/{me['id']}", headers=admin_headers)
    assert (
        error_of(delete, 403)["message"] == "you cannot delete your own account; another administrator must"
    )
    assert authorize(client, admin_headers).status_code == 200


def test_nobody_disables_deletes_or_resets_an_account_more_powerful_than_its_own(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser, login_as: LoginAs
) -> None:
    helpdesk = ["users:read", "users:update", "users:delete", "users:reset-password"]
    make_role(client, admin_headers, "helpdesk", helpdesk)
    make_user("wes", roles=("helpdesk",))
    headers = login_as("wes", USER_PASSWORD)
    admin_id = client.get("/api/v1/users/me", headers=admin_headers).get_json()["user"]["id"]
    for response in (
        client.patch(f"/api/v1/users/{admin_id}", json={"disabled": True}, headers=headers),
        client.patch(f"/api/v1/users/{admin_id}", json={"display_name": "pwned"}, headers=headers),
        client.delete(f"/api/v1/users/{admin_id}", headers=headers),
        client.post(f"/api/v1/users/{admin_id}/password-reset", headers=headers),
    ):
        error = error_of(response, 403)
        missing = sorted(set(PERMISSIONS) - set(helpdesk))
        assert error["message"].endswith(f"of user 'admin' needs permissions you do not hold: {missing}"), (
            error
        )
    assert authorize(client, admin_headers).status_code == 200
    # Within its own powers it may.
    plain = make_user("xena")
    assert (
        client.patch(f"/api/v1/users/{plain['id']}", json={"disabled": True}, headers=headers).status_code
        == 200
    )
    assert client.delete(f"/api/v1/users/{plain['id']}", headers=headers).status_code == 204


@pytest.mark.parametrize(
    ("method", "path", "permission"),
    [
        ("get", "/api/v1/users/{id}", "users:read"),
        ("patch", "/api/v1/users/{id}", "users:update"),
        ("delete", "/api/v1/users/{id}", "users:delete"),
        ("post", "/api/v1/users/{id}/password-reset", "users:reset-password"),
    ],
)
def test_each_user_route_needs_its_permission_and_a_token(
    client: FlaskClient, make_user: MakeUser, login_as: LoginAs, method: str, path: str, permission: str
) -> None:
    user = make_user("yves")
    url = path.format(id=user["id"])
    send = getattr(client, method)
    kwargs: dict[str, Any] = {"json": {"display_name": "x"}} if method == "patch" else {}
    assert error_of(send(url, **kwargs), 401)["message"].startswith("missing bearer token")
    response = send(url, headers=login_as("yves", USER_PASSWORD), **kwargs)
    assert error_of(response, 403)["message"] == f"missing permission {permission!r}"
