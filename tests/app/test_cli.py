"""`flask create-admin`: the first administrator, from ADMIN_PASSWORD or a prompt, with every permission."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from service.models import PERMISSIONS

from tests.support.app import LoginAs


def test_create_admin_prompts_for_the_password_when_admin_password_is_unset(
    app: Flask, client: FlaskClient, login_as: LoginAs
) -> None:
    result = app.test_cli_runner().invoke(
        args=["create-admin", "second-admin", "--keep-password"],
        input="prompted-pass-1\nprompted-pass-1\n",
        env={"ADMIN_PASSWORD": None},  # None unsets the variable
    )
    assert result.exit_code == 0, result.output
    me = client.get("/api/v1/users/me", headers=login_as("second-admin", "prompted-pass-1")).get_json()
    assert me["roles"] == ["admin"]
    assert me["permissions"] == sorted(PERMISSIONS)


def test_create_admin_refuses_an_existing_username(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=["create-admin", "admin"], env={"ADMIN_PASSWORD": "another-password-1"}
    )
    assert result.exit_code != 0
    assert "user 'admin' already exists" in result.output


def test_create_admin_refuses_a_short_password(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["create-admin", "boss"], env={"ADMIN_PASSWORD": "short"})
    assert result.exit_code != 0
    assert "the password is not allowed: String should have at least 15 characters" in result.output


def test_create_admin_refuses_a_bad_username(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=["create-admin", "no spaces allowed"], env={"ADMIN_PASSWORD": "long-enough-password-1"}
    )
    assert result.exit_code != 0
    assert (
        "Invalid value for USERNAME: String should contain only letters, digits, '_', '.', '@' or '-'"
        in result.output
    )
