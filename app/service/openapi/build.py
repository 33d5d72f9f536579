"""Build the OpenAPI 3.1 document from the app's routes and their `@documented` contracts.

Build time only (scripts/openapi.py, tests): apispec is a development dependency, and the image
serves the file this writes. Schemas come from pydantic (`models_json_schema`, the same models that
validate the bodies); apispec assembles the document and turns model names into references.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

from apispec import APISpec
from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from werkzeug.routing import Rule

from . import Operation, operation_of
from .models import Error

TITLE = "microservice.model"
API_VERSION = "1"
OPENAPI_VERSION = "3.1.0"
BEARER = "bearer"
REF_TEMPLATE = "#/components/schemas/{model}"
DOCUMENTED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")  # HEAD and OPTIONS: Flask answers them
# Routes that are no part of the API: Flask's own static route (the service ships no static files).
UNDOCUMENTED_ENDPOINTS = frozenset({"static"})
# Werkzeug's converters and this service's `id` (service/urls.py) as JSON schema.
CONVERTER_SCHEMAS: dict[str, dict[str, Any]] = {
    "IdConverter": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    "IntegerConverter": {"type": "integer", "minimum": 0},
    "UnicodeConverter": {"type": "string", "minLength": 1, "pattern": "^[^/]+$"},
    "PathConverter": {"type": "string", "minLength": 1},
}
# Headers on answers: every answer names its request (service/observe.py); a 429 or a 503 may say when
# to retry, and a 401 for a missing or bad token which scheme to use (RFC 6750).
HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id (the trusted proxy's, else a fresh one), also in the logs.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "WWW-Authenticate": {
        "description": "The scheme to authenticate with: Bearer.",
        "schema": {"type": "string"},
    },
}
HEADERS_BY_STATUS = {401: ("WWW-Authenticate",), 429: ("Retry-After",), 503: ("Retry-After",)}
_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


class UndocumentedRoute(Exception):
    """A route without `@documented`: the document would miss it."""


def documented_routes(app: Flask) -> Iterator[tuple[Rule, str, Operation | None]]:
    """(rule, method, its contract or None) for every API route and method of `app`."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint in UNDOCUMENTED_ENDPOINTS:
            continue
        for method in DOCUMENTED_METHODS:
            if method in (rule.methods or ()):
                yield rule, method, operation_of(app.view_functions[rule.endpoint])


def openapi_path(rule: Rule) -> str:
    """'/api/v1/users/<id:user_id>/roles' -> '/api/v1/users/{user_id}/roles'."""
    return _ARGUMENT.sub(r"{\1}", rule.rule)


def _path_parameters(rule: Rule) -> list[dict[str, Any]]:
    parameters = []
    for name, converter in sorted(rule._converters.items()):
        schema = CONVERTER_SCHEMAS.get(type(converter).__name__, {"type": "string"})
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return parameters


def _schemas(
    operations: list[Operation],
) -> tuple[dict[tuple[type[BaseModel], JsonSchemaMode], dict[str, Any]], dict[str, Any]]:
    """Each model's schema (a reference for the top level) and every named schema, by pydantic."""
    wanted: set[tuple[type[BaseModel], JsonSchemaMode]] = {(Error, "serialization")}
    for op in operations:
        wanted |= {(model, "serialization") for model in op.responses.values() if model is not None}
        if op.body is not None:
            wanted.add((op.body, "validation"))
        if op.query is not None:
            wanted.add((op.query, "validation"))
    ordered = sorted(wanted, key=lambda item: (item[0].__name__, item[1]))
    refs, definitions = models_json_schema(ordered, ref_template=REF_TEMPLATE)
    by_model = {(model, mode): refs[(model, mode)] for model, mode in ordered}
    return by_model, definitions.get("$defs", {})


def _query_parameters(query: dict[str, Any], definitions: dict[str, Any]) -> list[dict[str, Any]]:
    name = query["$ref"].rsplit("/", 1)[1]
    model = definitions[name]
    required = set(model.get("required", ()))
    return [
        {"name": field, "in": "query", "required": field in required, "schema": schema}
        for field, schema in model["properties"].items()
    ]


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _operation(
    rule: Rule,
    operation_id: str,
    op: Operation,
    refs: dict[tuple[type[BaseModel], JsonSchemaMode], dict[str, Any]],
    definitions: dict[str, Any],
) -> dict[str, Any]:
    error_ref = refs[(Error, "serialization")]
    responses: dict[str, Any] = {}
    for status, model in sorted(op.responses.items()):
        response: dict[str, Any] = {"description": HTTPStatus(status).phrase}
        if model is not None:
            response["content"] = _json(refs[(model, "serialization")])
        responses[str(status)] = response
    for status in op.error_statuses():
        responses.setdefault(
            str(status), {"description": HTTPStatus(status).phrase, "content": _json(error_ref)}
        )
    for code, response in responses.items():
        names = ("X-Request-ID", *HEADERS_BY_STATUS.get(int(code), ()))
        response["headers"] = {name: name for name in names}  # apispec makes each a reference
    description = op.summary
    if op.permission is not None:
        description += f" Needs the permission `{op.permission}`."
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": op.summary.split(". ")[0].rstrip("."),
        "description": description,
        "tags": [op.tag],
        "responses": responses,
        "security": [{BEARER: []}] if op.auth else [],
    }
    parameters = _path_parameters(rule)
    if op.query is not None:
        parameters += _query_parameters(refs[(op.query, "validation")], definitions)
    if parameters:
        operation["parameters"] = parameters
    if op.body is not None:
        operation["requestBody"] = {"required": True, "content": _json(refs[(op.body, "validation")])}
    return operation


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of `app`; UndocumentedRoute names every route that lacks `@documented`."""
    routes = list(documented_routes(app))
    missing = sorted(f"{method} {rule.rule} ({rule.endpoint})" for rule, method, op in routes if op is None)
    if missing:
        raise UndocumentedRoute(
            "routes without @documented (service/openapi; docs/contract.md, 'Adding an endpoint'): "
            + ", ".join(missing)
        )
    operations = [op for _, _, op in routes if op is not None]
    refs, definitions = _schemas(operations)
    spec = APISpec(
        title=TITLE,
        version=API_VERSION,
        openapi_version=OPENAPI_VERSION,
        info={
            "description": "Users, roles, permissions and tokens for other services. "
            "Every error answers with the one JSON error shape, `Error`."
        },
    )
    spec.components.security_scheme(BEARER, {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    for name, header in HEADERS.items():
        spec.components.header(name, header)
    query_models = {op.query.__name__ for op in operations if op.query is not None}  # inlined as parameters
    for name, schema in sorted(definitions.items()):
        if name not in query_models:
            spec.components.schema(name, schema)
    paths: dict[str, dict[str, Any]] = {}
    endpoints = [rule.endpoint for rule, _, _ in routes]
    for rule, method, op in routes:
        assert op is not None
        # The endpoint names the operation; one view serving two methods adds the method.
        operation_id = (
            rule.endpoint if endpoints.count(rule.endpoint) == 1 else f"{rule.endpoint}.{method.lower()}"
        )
        paths.setdefault(openapi_path(rule), {})[method.lower()] = _operation(
            rule, operation_id, op, refs, definitions
        )
    for path, path_operations in sorted(paths.items()):
        spec.path(path=path, operations=path_operations)
    document = spec.to_dict()
    return {"openapi": document.pop("openapi"), **document}


def render(document: dict[str, Any]) -> str:
    """The document as written to service/openapi/openapi.json: stable, diffable JSON."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def service_document() -> dict[str, Any]:
    """The document of the service as create_app() builds it (a throw-away test config: no database
    is opened, routes do not depend on settings)."""
    from service import create_app  # here: service imports this package

    with tempfile.TemporaryDirectory() as data_dir:
        return build_document(create_app({"RUNTIME_ENV": "test", "DATA_DIR": data_dir}))


ENDPOINTS_START = (
    "<!-- endpoints: written by `make openapi` from the OpenAPI document; do not edit by hand -->"
)
ENDPOINTS_END = "<!-- end of endpoints -->"


def endpoint_table(document: dict[str, Any]) -> str:
    """docs/contract.md's list of every operation: method, path, who may call it, what it does."""
    lines = ["| method | path | needs | what |", "| --- | --- | --- | --- |"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            needs = "-"
            if operation["security"]:
                needs = "bearer token"
                permission = re.search(r"Needs the permission `([^`]+)`", operation["description"])
                if permission:
                    needs += f", `{permission.group(1)}`"
            codes = ", ".join(operation["responses"])
            lines.append(f"| {method.upper()} | `{path}` | {needs} | {operation['summary']} ({codes}) |")
    return "\n".join(lines)


def with_endpoint_table(markdown: str, document: dict[str, Any]) -> str:
    """`markdown` with the text between the endpoint markers replaced by endpoint_table(document)."""
    head, start, rest = markdown.partition(ENDPOINTS_START)
    _, end, tail = rest.partition(ENDPOINTS_END)
    if not start or not end:
        raise ValueError(f"the endpoint markers are missing: {ENDPOINTS_START!r} ... {ENDPOINTS_END!r}")
    return f"{head}{start}\n{endpoint_table(document)}\n{end}{tail}"
