"""Issue 12, rows 5, 9 and 10: deep nesting, huge integers, NUL characters and names that differ only
in case are all 4xx answers, never a 500 with a traceback in the log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.app import NOT_A_JSON_OBJECT, USER_PASSWORD, MakeUser, error_of, sign

HUGE = "9" * 30
NUL_BODY = "request body must not contain NUL characters (\\u0000)"


@pytest.fixture(autouse=True)
def no_error_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A 500 logs 'unhandled error' with its traceback; none of these requests may."""
    caplog.set_level(logging.INFO)
    yield
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == [], [record.getMessage() for record in errors]


def post_raw(client: FlaskClient, path: str, data: str, headers: dict[str, str] | None = None) -> Any:
    return client.post(path, data=data, content_type="application/json", headers=headers or {})


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_a_deeply_nested_login_body_is_400(client: FlaskClient, depth: int) -> None:
    """Row 5: about 1,000 nested '[' was a 500 with a 33-line traceback."""
    body = "[" * depth + "]" * depth
    error = error_of(post_raw(client, "/api/v1/auth/login", body[: 60 * 1024]), 400)
    assert error["message"] in ("request body is nested deeper than 16 levels", NOT_A_JSON_OBJECT)


@pytest.mark.parametrize(
    "body",
    [
        '{"username": ' + "[" * 999 + "]" * 999 + ', "password": "x"}',
        '{"username": "admin", "password": "x", "extra": ' + '{"a": ' * 200 + "1" + "}" * 200 + "}",
    ],
    ids=["nested-field", "nested-unknown-field"],
)
def test_nesting_anywhere_in_the_body_is_400(client: FlaskClient, body: str) -> None:
    error = error_of(post_raw(client, "/api/v1/auth/login", body), 400)
    assert error["message"] == "request body is nested deeper than 16 levels"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/auth/login", {"username": "adm\x00in", "password": "x"}),
        ("/api/v1/auth/login", {"username": "admin", "password": "pass\x00word"}),
        ("/api/v1/users", {"username": "nul\x00name", "password": USER_PASSWORD}),
        ("/api/v1/roles", {"name": "r", "permissions": ["users:read\x00"]}),
        ("/api/v1/authorize", {"permission": "users\x00:read"}),
        ("/api/v1/users/1/roles", {"role": "admin\x00"}),
        ("/api/v1/auth/login", {"username": "admin", "password": "x", "n\x00": 1}),
    ],
    ids=["login-username", "login-password", "new-username", "role-permission", "authorize", "grant", "key"],
)
def test_nul_characters_are_400_on_every_backend(
    client: FlaskClient, admin_headers: dict[str, str], path: str, body: dict[str, Any]
) -> None:
    """PostgreSQL refuses NUL in text; the query used to fail with a 500."""
    response = client.post(path, json=body, headers=admin_headers)
    assert error_of(response, 400)["message"] == NUL_BODY


@pytest.mark.parametrize(
    "path",
    [f"/api/v1/users/{HUGE}/roles", "/api/v1/users/2147483648/roles", "/api/v1/users/0/roles"],
    ids=["30-digits", "int32-plus-one", "zero"],
)
def test_ids_out_of_range_in_the_path_are_404(
    client: FlaskClient, admin_headers: dict[str, str], path: str
) -> None:
    """Row 9: OverflowError (SQLite) / NumericValueOutOfRange (PostgreSQL) were 500s."""
    error_of(client.post(path, json={"role": "admin"}, headers=admin_headers), 404)


def test_the_largest_id_is_an_ordinary_404(client: FlaskClient, admin_headers: dict[str, str]) -> None:
    response = client.post("/api/v1/users/2147483647/roles", json={"role": "admin"}, headers=admin_headers)
    assert error_of(response, 404)["message"] == "user 2147483647 not found"


@pytest.mark.parametrize(
    "query", [f"offset={HUGE}", f"limit={HUGE}", "offset=2147483648", f"limit=1&offset=-{HUGE}"]
)
def test_huge_paging_numbers_are_400(client: FlaskClient, admin_headers: dict[str, str], query: str) -> None:
    error_of(client.get(f"/api/v1/users?{query}", headers=admin_headers), 400)


# The last is ARABIC-INDIC DIGIT ONE: str.isdigit() says yes, int() reads it, but it is no id.
@pytest.mark.parametrize("sub", [HUGE, "9" * 5000, "-1", "0", "1e3", "\u0661"])
def test_a_signed_token_with_an_impossible_subject_is_401(app: Flask, client: FlaskClient, sub: str) -> None:
    now = datetime.now(UTC)
    claims = {
        "sub": sub,
        "ver": "v",
        "iss": "microservice-model",
        "aud": "microservice-model",
        "iat": now,
        "exp": now + timedelta(hours=1),
        "jti": "impossible-subject",
    }
    token = sign(app, claims)
    response = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert error_of(response, 401)["message"] == "invalid token: subject is not a user id"


@pytest.mark.parametrize("name", ["Admin", "ADMIN", "aDmIn"])
def test_a_username_differing_only_in_case_is_409(
    client: FlaskClient, admin_headers: dict[str, str], name: str
) -> None:
    """Row 10: 'Admin' and 'ADMIN' were created next to 'admin'."""
    response = client.post(
        "/api/v1/users", json={"username": name, "password": USER_PASSWORD}, headers=admin_headers
    )
    error = error_of(response, 409)
    assert error["message"] == f"user {name!r} already exists (usernames are the same whatever their case)"


def test_case_insensitive_names_hold_for_users_made_through_the_api_too(
    client: FlaskClient, admin_headers: dict[str, str], make_user: MakeUser
) -> None:
    make_user("Carol")
    for name in ("carol", "CAROL"):
        body = {"username": name, "password": USER_PASSWORD}
        error_of(client.post("/api/v1/users", json=body, headers=admin_headers), 409)
    users = client.get("/api/v1/users", headers=admin_headers).get_json()["users"]
    assert [u["username"] for u in users] == ["admin", "Carol"]


def test_the_cli_refuses_an_admin_name_differing_only_in_case(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=["create-admin", "ADMIN"], env={"ADMIN_PASSWORD": "long-enough-password-1"}
    )
    assert result.exit_code != 0
    assert "user 'ADMIN' already exists (whatever the case)" in result.output
