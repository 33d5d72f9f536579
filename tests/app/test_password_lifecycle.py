"""Issue 14, passwords: the policy (length over composition, the shipped common-password list),
self-service change, an admin's reset that forces a change at the next login, and the first admin
made by `flask create-admin` changing the password it was given."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from service.passwords import PASSWORD_MIN, common_passwords

from tests.support.app import USER_PASSWORD, LoginAs, MakeUser, error_of

NEW_PASSWORD = "a-new-long-passphrase"


def new_user(client: FlaskClient, headers: dict[str, str], password: str) -> Any:
    return client.post("/api/v1/users", json={"username": "pat", "password": password}, headers=headers)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("x" * (PASSWORD_MIN - 1), "'password': String should have at least 15 characters"),
        ("y" * 129, "'password': String should have at most 128 characters"),
        ("123456789123456", "'password': is one of the most commonly used passwords; choose another"),
        ("QwErTy123456789", "'password': is one of the most commonly used passwords; choose another"),
        ("abababababababab", "'password': must use at least 5 different characters"),
    ],
    ids=["too-short", "too-long", "common", "common-any-case", "repetitive"],
)
def test_the_policy_refuses_short_long_common_and_repetitive_passwords(
    client: FlaskClient, admin_headers: dict[str, str], password: str, message: str
) -> None:
    error = error_of(new_user(client, admin_headers, password), 400)
    assert error["message"].startswith(message), error
    assert password not in error["message"]


def test_the_policy_takes_any_long_passphrase_without_composition_rules(
    client: FlaskClient, admin_headers: dict[str, str], login_as: LoginAs
) -> None:
    passphrase = "correct horse battery staple é"  # spaces, lower case only, non-ASCII: all fine
    response = new_user(client, admin_headers, passphrase)
    assert response.status_code == 201, response.get_json()
    assert login_as("pat", passphrase)


def test_the_shipped_list_holds_only_passwords_the_length_rule_lets_through() -> None:
    listed = common_passwords()
    assert "1q2w3e4r5t6y7u8i9o0p" in listed
    assert all(len(password) >= PASSWORD_MIN for password in listed)


def test_self_service_change_needs_the_current_password_and_a_different_new_one(
    client: FlaskClient, make_user: MakeUser, login_as: LoginAs
) -> None:
    make_user("quinn")
    headers = login_as("quinn", USER_PASSWORD)
    url = "/api/v1/users/me/password"
    wrong = {"current_password": "not-the-password", "new_password": NEW_PASSWORD}
    assert (
        error_of(client.put(url, json=wrong, headers=headers), 401)["message"] == "wrong username or password"
    )
    same = {"current_password": USER_PASSWORD, "new_password": USER_PASSWORD}
    assert error_of(client.put(url, json=same, headers=headers), 400)["message"] == (
        "'new_password': must differ from the current password"
    )
    common = {"current_password": USER_PASSWORD, "new_password": "qwerty123456789"}
    error_of(client.put(url, json=common, headers=headers), 400)
    changed = client.put(
        url, json={"current_password": USER_PASSWORD, "new_password": NEW_PASSWORD}, headers=headers
    )
    assert changed.status_code == 200
    assert login_as("quinn", NEW_PASSWORD)


def test_an_admin_reset_revokes_tokens_and_forces_a_change_at_the_next_login(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser, login_as: LoginAs
) -> None:
    user = make_user("rosa", roles=("admin",))
    old_headers = login_as("rosa", USER_PASSWORD)
    response = client.post(f"/api/v1/users/{user['id']}/password-reset", headers=admin_headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    temporary = body["temporary_password"]
    assert len(temporary) >= PASSWORD_MIN
    assert body["user"]["must_change_password"] is True
    error_of(client.get("/api/v1/users/me", headers=old_headers), 401)

    # The right temporary password gives no token, only the way to change it.
    login = client.post("/api/v1/auth/login", json={"username": "rosa", "password": temporary})
    error = error_of(login, 403)
    assert error["code"] == "password_change_required"
    assert "POST /api/v1/auth/password-change" in error["message"]
    # A wrong password still answers 401, telling nothing about the reset.
    wrong = client.post("/api/v1/auth/login", json={"username": "rosa", "password": USER_PASSWORD})
    assert error_of(wrong, 401)["code"] == "unauthorized"

    change = "/api/v1/auth/password-change"
    same = {"username": "rosa", "current_password": temporary, "new_password": temporary}
    error_of(client.post(change, json=same), 400)
    changed = client.post(
        change, json={"username": "rosa", "current_password": temporary, "new_password": NEW_PASSWORD}
    )
    assert changed.status_code == 200, changed.get_json()
    token_headers = {"Authorization": f"Bearer {changed.get_json()['access_token']}"}
    me = client.get("/api/v1/users/me", headers=token_headers).get_json()
    assert me["user"]["must_change_password"] is False
    assert login_as("rosa", NEW_PASSWORD)
    # The temporary password is gone.
    again = client.post("/api/v1/auth/login", json={"username": "rosa", "password": temporary})
    error_of(again, 401)


def test_the_password_change_endpoint_refuses_unknown_users_and_wrong_passwords_alike(
    client: FlaskClient, make_user: MakeUser
) -> None:
    make_user("sol")
    change = "/api/v1/auth/password-change"
    for username, current in (("sol", "not-the-password"), ("nobody-here", USER_PASSWORD)):
        body = {"username": username, "current_password": current, "new_password": NEW_PASSWORD}
        assert error_of(client.post(change, json=body), 401)["message"] == "wrong username or password"
    missing = client.post(change, json={"username": "sol", "current_password": USER_PASSWORD})
    assert error_of(missing, 400)["message"] == "'new_password': Field required"


def test_the_first_admin_must_change_the_password_given_at_create_admin(
    app: Flask, client: FlaskClient, login_as: LoginAs
) -> None:
    given = "given-at-the-terminal-1"
    result = app.test_cli_runner().invoke(args=["create-admin", "first-admin"], env={"ADMIN_PASSWORD": given})
    assert result.exit_code == 0, result.output
    assert "must be changed at the first login" in result.output
    login = client.post("/api/v1/auth/login", json={"username": "first-admin", "password": given})
    assert error_of(login, 403)["code"] == "password_change_required"
    body = {"username": "first-admin", "current_password": given, "new_password": NEW_PASSWORD}
    assert client.post("/api/v1/auth/password-change", json=body).status_code == 200
    me = client.get("/api/v1/users/me", headers=login_as("first-admin", NEW_PASSWORD)).get_json()
    assert me["roles"] == ["admin"]


def test_create_admin_keep_password_is_for_automation_with_a_secret_store(
    app: Flask, client: FlaskClient, login_as: LoginAs
) -> None:
    given = "from-the-secret-store-1"
    result = app.test_cli_runner().invoke(
        args=["create-admin", "robot-admin", "--keep-password"], env={"ADMIN_PASSWORD": given}
    )
    assert result.exit_code == 0, result.output
    assert client.get("/api/v1/users/me", headers=login_as("robot-admin", given)).status_code == 200


def test_create_admin_applies_the_policy(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=["create-admin", "boss"], env={"ADMIN_PASSWORD": "qwerty123456789"}
    )
    assert result.exit_code != 0
    assert "the password is not allowed: is one of the most commonly used passwords" in result.output
