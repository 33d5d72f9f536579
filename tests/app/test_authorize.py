"""POST /api/v1/authorize: may the token's user do this? 200, 403, 401 or 400."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.app import NOT_A_JSON_OBJECT, NOT_A_STRING, USER_PASSWORD, LoginAs, MakeUser, error_of


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
