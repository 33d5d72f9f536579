"""Issue 14, service accounts and permissions of other services: a service account gets a token by
client credentials, registers the permissions it owns (`<service>:<action>`), which `authorize` then
answers for, and asks whether a user holds a permission without that user's token."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from service.extensions import db
from service.models import User
from sqlalchemy import select

from tests.support.app import USER_PASSWORD, LoginAs, MakeUser, error_of


def create_account(client: FlaskClient, headers: dict[str, str], name: str, *roles: str) -> dict[str, Any]:
    response = client.post("/api/v1/service-accounts", json={"name": name}, headers=headers)
    assert response.status_code == 201, response.get_json()
    created: dict[str, Any] = response.get_json()
    for role in roles:
        granted = client.post(
            f"/api/v1/users/{created['service_account']['id']}/roles", json={"role": role}, headers=headers
        )
        assert granted.status_code == 200, granted.get_json()
    return created


def make_role(client: FlaskClient, headers: dict[str, str], name: str, permissions: list[str]) -> None:
    response = client.post("/api/v1/roles", json={"name": name, "permissions": permissions}, headers=headers)
    assert response.status_code == 201, response.get_json()


def client_token(client: FlaskClient, client_id: str, secret: str) -> dict[str, str]:
    body = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    response = client.post("/api/v1/auth/token", json=body)
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def authorize(client: FlaskClient, headers: dict[str, str], permission: str) -> int:
    return client.post("/api/v1/authorize", json={"permission": permission}, headers=headers).status_code


def test_a_service_account_gets_a_token_by_client_credentials_in_json_form_or_basic(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    created = create_account(client, admin_headers, "billing")
    secret = created["client_secret"]
    assert created["client_id"] == "billing"
    assert created["service_account"]["kind"] == "service"
    assert len(secret) >= 40
    with app.app_context():
        stored = db.session.scalar(select(User.password_hash).where(User.username == "billing"))
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert secret not in stored

    json_headers = client_token(client, "billing", secret)
    me = client.get("/api/v1/users/me", headers=json_headers).get_json()
    assert me["user"]["kind"] == "service"
    form = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": "billing", "client_secret": secret},
    )
    assert form.status_code == 200, form.get_json()
    basic = base64.b64encode(f"billing:{secret}".encode()).decode()
    by_basic = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert by_basic.status_code == 200, by_basic.get_json()
    assert by_basic.get_json()["token_type"] == "Bearer"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {"grant_type": "password", "client_id": "billing", "client_secret": "x"},
            400,
            "'grant_type': Input should be 'client_credentials'",
        ),
        (
            {"grant_type": "client_credentials", "client_id": "billing"},
            400,
            "'client_secret': Field required",
        ),
        (
            {"grant_type": "client_credentials", "client_id": "billing", "client_secret": "wrong"},
            401,
            "wrong client_id or client_secret",
        ),
        (
            {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "wrong"},
            401,
            "wrong client_id or client_secret",
        ),
    ],
    ids=["other-grant", "no-secret", "wrong-secret", "unknown-client"],
)
def test_a_bad_client_credentials_request_says_what_is_wrong(
    client: FlaskClient, admin_headers: dict[str, str], body: dict[str, Any], status: int, message: str
) -> None:
    create_account(client, admin_headers, "billing")
    error = error_of(client.post("/api/v1/auth/token", json=body), status)
    assert error["message"].startswith(message), error


def test_service_accounts_and_people_do_not_cross_login_routes(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser
) -> None:
    secret = create_account(client, admin_headers, "mailer")["client_secret"]
    login = client.post("/api/v1/auth/login", json={"username": "mailer", "password": secret})
    assert error_of(login, 401)["message"] == "wrong username or password"
    make_user("gus")
    body = {"grant_type": "client_credentials", "client_id": "gus", "client_secret": USER_PASSWORD}
    error_of(client.post("/api/v1/auth/token", json=body), 401)


def test_replacing_the_secret_and_disabling_or_deleting_refuse_the_old_tokens_at_once(
    client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    created = create_account(client, admin_headers, "billing", "admin")
    account_id = created["service_account"]["id"]
    headers = client_token(client, "billing", created["client_secret"])
    assert authorize(client, headers, "users:read") == 200

    replaced = client.post(f"/api/v1/service-accounts/{account_id}/secret", headers=admin_headers)
    assert replaced.status_code == 200
    assert authorize(client, headers, "users:read") == 401
    body = {
        "grant_type": "client_credentials",
        "client_id": "billing",
        "client_secret": created["client_secret"],
    }
    error_of(client.post("/api/v1/auth/token", json=body), 401)
    headers = client_token(client, "billing", replaced.get_json()["client_secret"])

    client.patch(f"/api/v1/users/{account_id}", json={"disabled": True}, headers=admin_headers)
    assert authorize(client, headers, "users:read") == 401
    body["client_secret"] = replaced.get_json()["client_secret"]
    assert (
        error_of(client.post("/api/v1/auth/token", json=body), 401)["message"]
        == "this service account is disabled"
    )
    client.patch(f"/api/v1/users/{account_id}", json={"disabled": False}, headers=admin_headers)
    headers = client_token(client, "billing", body["client_secret"])
    assert client.delete(f"/api/v1/users/{account_id}", headers=admin_headers).status_code == 204
    assert authorize(client, headers, "users:read") == 401
    error_of(client.post("/api/v1/auth/token", json=body), 401)
    listed = client.get("/api/v1/service-accounts", headers=admin_headers).get_json()["service_accounts"]
    assert "billing" not in [account["username"] for account in listed]


def test_service_account_names_are_unique_among_users_and_a_person_has_no_secret(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser
) -> None:
    person = make_user("hal")
    taken = client.post("/api/v1/service-accounts", json={"name": "HAL"}, headers=admin_headers)
    error_of(taken, 409)
    error_of(client.post(f"/api/v1/service-accounts/{person['id']}/secret", headers=admin_headers), 409)
    account = create_account(client, admin_headers, "robot")
    reset = client.post(
        f"/api/v1/users/{account['service_account']['id']}/password-reset", headers=admin_headers
    )
    error_of(reset, 409)
    bad = client.post("/api/v1/service-accounts", json={"name": "no spaces"}, headers=admin_headers)
    error_of(bad, 400)


def test_a_service_registers_its_permissions_and_authorize_answers_for_them(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser, login_as: LoginAs
) -> None:
    make_role(client, admin_headers, "registrar", ["permissions:register"])
    billing = create_account(client, admin_headers, "billing", "registrar")
    headers = client_token(client, "billing", billing["client_secret"])

    body = {"name": "billing:refund", "description": "refund an invoice"}
    created = client.post("/api/v1/permissions", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    assert created.get_json() == {
        "name": "billing:refund",
        "description": "refund an invoice",
        "builtin": False,
    }
    again = client.post("/api/v1/permissions", json={**body, "description": "refunds"}, headers=headers)
    assert again.status_code == 200
    assert again.get_json()["description"] == "refunds"

    # The admin role holds it, so an administrator can hand it out in a role; authorize answers.
    make_role(client, admin_headers, "refunders", ["billing:refund"])
    make_user("ivy", roles=("refunders",))
    ivy = login_as("ivy", USER_PASSWORD)
    assert authorize(client, ivy, "billing:refund") == 200
    assert authorize(client, ivy, "billing:void") == 403
    assert authorize(client, admin_headers, "billing:refund") == 200
    listed = client.get("/api/v1/permissions", headers=admin_headers).get_json()["permissions"]
    assert {"name": "billing:refund", "description": "refunds", "builtin": False} in listed
    assert {"name": "users:read", "description": "list users", "builtin": True} in listed


def test_nobody_registers_in_the_services_namespaces_or_another_services(
    client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    make_role(client, admin_headers, "registrar", ["permissions:register"])
    billing = client_token(
        client, "billing", create_account(client, admin_headers, "billing", "registrar")["client_secret"]
    )
    mailer = client_token(
        client, "mailer", create_account(client, admin_headers, "mailer", "registrar")["client_secret"]
    )
    assert (
        client.post("/api/v1/permissions", json={"name": "billing:refund"}, headers=billing).status_code
        == 201
    )

    theirs = client.post("/api/v1/permissions", json={"name": "billing:void"}, headers=mailer)
    assert error_of(theirs, 403)["message"] == (
        "namespace 'billing' belongs to 'billing'; only it registers permissions there"
    )
    own = client.post("/api/v1/permissions", json={"name": "users:everything"}, headers=mailer)
    assert error_of(own, 403)["message"].startswith("namespace 'users' belongs to this service")


@pytest.mark.parametrize(
    "name",
    [
        "billing",
        "Billing:refund",
        "billing:",
        ":refund",
        "billing:refund:all",
        "bill ing:refund",
        "x" * 60 + ":abcdef",
    ],
)
def test_a_permission_name_must_be_service_colon_action(
    client: FlaskClient, admin_headers: dict[str, str], name: str
) -> None:
    error = error_of(client.post("/api/v1/permissions", json={"name": name}, headers=admin_headers), 400)
    assert error["message"].startswith("'name': String should"), error


def test_introspection_answers_for_any_user_without_its_token(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser
) -> None:
    make_role(client, admin_headers, "introspector", ["users:introspect"])
    make_role(client, admin_headers, "readers", ["users:read"])
    gateway = client_token(
        client, "gateway", create_account(client, admin_headers, "gateway", "introspector")["client_secret"]
    )
    user = make_user("joe", roles=("readers",))
    url = f"/api/v1/users/{user['id']}/authorize"

    yes = client.post(url, json={"permission": "users:read"}, headers=gateway)
    assert yes.status_code == 200
    assert yes.get_json() == {
        "allowed": True,
        "user": {"id": user["id"], "username": "joe", "disabled": False},
        "permission": "users:read",
    }
    no = client.post(url, json={"permission": "users:create"}, headers=gateway)
    assert no.get_json()["allowed"] is False
    client.patch(f"/api/v1/users/{user['id']}", json={"disabled": True}, headers=admin_headers)
    disabled = client.post(url, json={"permission": "users:read"}, headers=gateway).get_json()
    assert (disabled["allowed"], disabled["user"]["disabled"]) == (False, True)
    client.delete(f"/api/v1/users/{user['id']}", headers=admin_headers)
    error_of(client.post(url, json={"permission": "users:read"}, headers=gateway), 404)
    error_of(client.post(url, json={}, headers=gateway), 400)

    # Without users:introspect, a service cannot ask about others.
    other = client_token(
        client, "other", create_account(client, admin_headers, "other", "readers")["client_secret"]
    )
    refused = client.post(url, json={"permission": "users:read"}, headers=other)
    assert error_of(refused, 403)["message"] == "missing permission 'users:introspect'"


@pytest.mark.parametrize(
    ("method", "path", "permission"),
    [
        ("post", "/api/v1/service-accounts", "service-accounts:manage"),
        ("get", "/api/v1/service-accounts", "users:read"),
        ("post", "/api/v1/service-accounts/1/secret", "service-accounts:manage"),
        ("get", "/api/v1/permissions", "permissions:read"),
        ("post", "/api/v1/permissions", "permissions:register"),
        ("post", "/api/v1/users/1/authorize", "users:introspect"),
    ],
)
def test_each_route_needs_its_permission_and_a_token(
    client: FlaskClient, make_user: MakeUser, login_as: LoginAs, method: str, path: str, permission: str
) -> None:
    make_user("kim")
    send = getattr(client, method)
    assert error_of(send(path), 401)["message"].startswith("missing bearer token")
    response = send(path, headers=login_as("kim", USER_PASSWORD))
    assert error_of(response, 403)["message"] == f"missing permission {permission!r}"
