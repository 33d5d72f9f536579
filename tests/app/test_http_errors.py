"""HTTP errors raised by Werkzeug itself still answer in the contract's JSON error shape."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.support.app import error_of


def test_unknown_path_is_a_json_404(client: FlaskClient) -> None:
    assert error_of(client.get("/api/v1/nothing-here"), 404)["code"] == "not_found"


def test_wrong_method_is_a_json_405_with_allow_header(client: FlaskClient) -> None:
    response = client.delete("/api/v1/auth/login")
    assert error_of(response, 405)["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


def test_oversized_body_is_a_json_413(client: FlaskClient) -> None:
    response = client.post("/api/v1/auth/login", data="x" * (65 * 1024), content_type="application/json")
    assert error_of(response, 413)["code"] == "request_entity_too_large"
