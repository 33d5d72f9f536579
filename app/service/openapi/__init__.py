"""The API contract: each route says what it takes and answers with `@documented`, and the service
serves the OpenAPI 3.1 document built from that at GET /openapi.json.

The document is written at build time (`make openapi`, scripts/openapi.py, with apispec and the
pydantic models' own JSON schema: service/openapi/build.py) into service/openapi/openapi.json, which
ships with the code; a test keeps it current. So the image carries no generator, and serving it
costs a file read. docs/contract.md says how to add an endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from flask import Blueprint, Response
from pydantic import BaseModel

from .models import OpenAPIDocument

DOCUMENT_PATH = Path(__file__).resolve().parent / "openapi.json"
ATTRIBUTE = "__openapi__"  # where @documented leaves its Operation on the view function

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Operation:
    """What one route takes and answers; service/openapi/build.py turns it into an OpenAPI operation.

    `responses` maps each success status to its body's model (None: no body). Error statuses answer
    with the one JSON error shape (service/errors.py); those a route can give follow from the rest:
    400 with a body or query model, 401 with `auth`, 403 with a required permission, 503 when it uses
    the database (down or restarting: service/errors.py), plus `errors`.
    """

    summary: str
    responses: Mapping[int, type[BaseModel] | None]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    auth: bool = True
    permission: str | None = None
    errors: frozenset[int] = field(default_factory=frozenset)
    tag: str = "api"
    database: bool = True

    def error_statuses(self) -> list[int]:
        statuses = set(self.errors)
        if self.body is not None or self.query is not None:
            statuses.add(400)
        if self.auth:
            statuses.add(401)
        if self.permission is not None:
            statuses.add(403)
        if self.database:
            statuses.add(503)
        return sorted(statuses)


def documented(
    summary: str,
    *,
    responses: Mapping[int, type[BaseModel] | None],
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    auth: bool = True,
    errors: Iterable[int] = (),
    tag: str = "api",
    database: bool = True,
) -> Callable[[F], F]:
    """Route decorator (right below `@blueprint.get/post/...`): records the route's contract and
    changes nothing it does. The permission a `@require_permission` below it checks is read from there.
    """

    def decorator(view: F) -> F:
        operation = Operation(
            summary=summary,
            responses=dict(responses),
            body=body,
            query=query,
            auth=auth,
            permission=getattr(view, "required_permission", None),
            errors=frozenset(errors),
            tag=tag,
            database=database,
        )
        setattr(view, ATTRIBUTE, operation)
        return view

    return decorator


def operation_of(view: Callable[..., Any]) -> Operation | None:
    found = getattr(view, ATTRIBUTE, None)
    return found if isinstance(found, Operation) else None


contract = Blueprint("contract", __name__)


@cache  # the file ships with the code, so it cannot change while the process runs
def _document_bytes() -> bytes:
    return DOCUMENT_PATH.read_bytes()


@contract.get("/openapi.json")
@documented(
    "This OpenAPI 3.1 document.",
    responses={200: OpenAPIDocument},
    auth=False,
    tag="operations",
    database=False,
)
def openapi_document() -> Response:
    return Response(_document_bytes(), mimetype="application/json")


def served_document() -> dict[str, Any]:
    """The document as the service serves it (for tests and the regenerate script)."""
    document: dict[str, Any] = json.loads(_document_bytes())
    return document
