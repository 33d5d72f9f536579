"""The OpenAPI document: current, complete, valid OpenAPI 3.1, served as committed, and every
operation states its errors (the one JSON error shape) and its auth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from flask import Flask
from schemathesis.specs.openapi.definitions import OPENAPI_31
from service.openapi import DOCUMENT_PATH, documented
from service.openapi.build import (
    UNDOCUMENTED_ENDPOINTS,
    UndocumentedRoute,
    build_document,
    documented_routes,
    openapi_path,
    render,
    with_endpoint_table,
)
from service.openapi.models import Health

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACT_DOC = REPO_ROOT / "docs" / "contract.md"
ERROR_REF = {"$ref": "#/components/schemas/Error"}


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def test_the_committed_document_is_current(built_document: dict[str, Any]) -> None:
    assert DOCUMENT_PATH.read_text() == render(built_document), "stale: run `make openapi` and commit it"


def test_docs_contract_lists_every_operation(built_document: dict[str, Any]) -> None:
    text = CONTRACT_DOC.read_text()
    assert text == with_endpoint_table(text, built_document), "docs/contract.md is stale: run `make openapi`"
    for method, path in operations(built_document):
        assert f"| {method} | `{path}` |" in text


def test_docs_openapi_json_is_the_document() -> None:
    assert (REPO_ROOT / "docs" / "openapi.json").resolve() == DOCUMENT_PATH


def test_every_route_of_the_app_is_in_the_committed_document(contract_app: Flask) -> None:
    # Only Flask's own static route is left out (UNDOCUMENTED_ENDPOINTS: the service ships no static
    # files); every other route and method, the operational ones included, is part of the contract.
    assert UNDOCUMENTED_ENDPOINTS == {"static"}
    routes = {
        (method, openapi_path(rule))
        for rule in contract_app.url_map.iter_rules()
        if rule.endpoint not in UNDOCUMENTED_ENDPOINTS
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    committed = set(operations(json.loads(DOCUMENT_PATH.read_text())))
    assert routes - committed == set(), "routes missing from the document: run `make openapi`"
    assert committed - routes == set(), "operations in the document that the app does not serve"


def test_a_route_without_documented_fails_the_build_naming_it(contract_app: Flask) -> None:
    contract_app.add_url_rule("/forgotten", "forgotten", lambda: {}, methods=["POST"])
    with pytest.raises(UndocumentedRoute, match=r"POST /forgotten \(forgotten\)"):
        build_document(contract_app)


def test_a_documented_route_gets_its_path_parameters_and_statuses(contract_app: Flask) -> None:
    @documented("A thing.", responses={200: Health}, errors=(404,))
    def thing(thing_id: int) -> dict[str, str]:
        return {"status": "ok"}

    contract_app.add_url_rule("/things/<id:thing_id>", "thing", thing)
    operation = build_document(contract_app)["paths"]["/things/{thing_id}"]["get"]
    assert operation["parameters"] == [
        {
            "name": "thing_id",
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
        }
    ]
    assert sorted(operation["responses"]) == ["200", "401", "404", "503"]  # 503: the database is down
    assert operation["security"] == [{"bearer": []}]


def test_the_service_serves_the_committed_document(contract_app: Flask) -> None:
    response = contract_app.test_client().get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == json.loads(DOCUMENT_PATH.read_text())


def test_the_document_is_valid_openapi_3_1(built_document: dict[str, Any]) -> None:
    assert built_document["openapi"] == "3.1.0"
    # The OpenAPI 3.1 specification's own JSON schema (as Schemathesis ships it), then each schema
    # as JSON Schema 2020-12, the dialect OpenAPI 3.1 uses.
    jsonschema.Draft202012Validator(OPENAPI_31).validate(built_document)
    for name, schema in built_document["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema)  # raises naming what is wrong
        assert schema.get("title") == name


def test_request_bodies_are_the_validation_models(built_document: dict[str, Any]) -> None:
    schemas = built_document["components"]["schemas"]
    login = operations(built_document)[("POST", "/api/v1/auth/login")]
    assert login["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LoginBody"
    }
    new_user = schemas["NewUserBody"]["properties"]["username"]
    assert new_user["pattern"] == "^[A-Za-z0-9_.@-]+$"
    assert (new_user["minLength"], new_user["maxLength"]) == (3, 64)
    page = {p["name"]: p for p in operations(built_document)[("GET", "/api/v1/users")]["parameters"]}
    assert page["limit"]["schema"]["maximum"] == 500


def test_every_error_answer_is_the_one_error_shape(built_document: dict[str, Any]) -> None:
    for (method, path), operation in operations(built_document).items():
        for status, response in operation["responses"].items():
            if int(status) < 400 or (path, status) == ("/readyz", "503"):  # readyz: its own answer
                continue
            assert response["content"] == {"application/json": {"schema": ERROR_REF}}, (method, path, status)
    error = built_document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]


def test_protected_operations_need_the_bearer_scheme_and_may_answer_401(
    built_document: dict[str, Any],
) -> None:
    assert built_document["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }
    protected = {key for key, op in operations(built_document).items() if op["security"]}
    assert ("GET", "/api/v1/users") in protected
    assert ("POST", "/api/v1/auth/login") not in protected
    for key in protected:
        op = operations(built_document)[key]
        assert op["security"] == [{"bearer": []}], key
        assert "401" in op["responses"], key


def test_permissions_are_named_with_their_403(built_document: dict[str, Any]) -> None:
    create_user = operations(built_document)[("POST", "/api/v1/users")]
    assert "`users:create`" in create_user["description"]
    assert "403" in create_user["responses"]


def test_documented_routes_walk_every_method(contract_app: Flask) -> None:
    found = {(method, rule.rule) for rule, method, _ in documented_routes(contract_app)}
    assert ("GET", "/api/v1/users") in found
    assert ("POST", "/api/v1/users") in found


def test_every_answer_names_its_request_and_throttled_ones_say_when_to_retry(
    built_document: dict[str, Any],
) -> None:
    assert built_document["components"]["headers"]["X-Request-ID"]["required"] is True
    for (method, path), operation in operations(built_document).items():
        for status, response in operation["responses"].items():
            assert "X-Request-ID" in response["headers"], (method, path, status)
    login = operations(built_document)[("POST", "/api/v1/auth/login")]
    assert "Retry-After" in login["responses"]["429"]["headers"]


def test_only_operations_that_use_the_database_list_its_503(built_document: dict[str, Any]) -> None:
    ops = operations(built_document)
    for method, path in [("GET", "/healthz"), ("GET", "/version"), ("GET", "/openapi.json")]:
        assert "503" not in ops[(method, path)]["responses"], path
    assert "503" not in ops[("GET", "/.well-known/openid-configuration")]["responses"]
    for method, path in [("POST", "/api/v1/authorize"), ("GET", "/.well-known/jwks.json")]:
        assert ops[(method, path)]["responses"]["503"]["headers"]["Retry-After"], path
    readyz_503 = ops[("GET", "/readyz")]["responses"]["503"]["content"]["application/json"]["schema"]
    assert readyz_503["$ref"].endswith("/NotReady"), "readyz keeps its own 503 body"
