"""Query strings are read through pydantic models (service/validation.py, the OpenAPI document's
parameters): a value that is not what the document says, or a parameter it does not name, is a 400
naming it, never a silent default."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.support.app import error_of


@pytest.mark.parametrize(
    ("query", "named"),
    [("limit=abc", "'limit'"), ("offset=1.5", "'offset'"), ("limt=5", "'limt'"), ("limit=", "'limit'")],
)
def test_a_bad_or_unknown_query_parameter_is_a_400_naming_it(
    client: FlaskClient, admin_headers: dict[str, str], query: str, named: str
) -> None:
    message = error_of(client.get(f"/api/v1/users?{query}", headers=admin_headers), 400)["message"]
    assert named in message


def test_documented_query_parameters_still_page(client: FlaskClient, admin_headers: dict[str, str]) -> None:
    page = client.get("/api/v1/users?limit=1&offset=0", headers=admin_headers).get_json()
    assert (page["limit"], page["offset"], len(page["users"])) == (1, 0, 1)
