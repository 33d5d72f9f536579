"""Checks for the small JSON bodies the API accepts: 400 with a message naming the field."""

from __future__ import annotations

import re
from typing import Any

from flask import request
from werkzeug.exceptions import BadRequest

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]+$")
NAME_RULE = "letters, digits, '_', '.', '@' or '-'"


def json_object() -> dict[str, Any]:
    """The request body as a JSON object; 400 for a missing, non-JSON or non-object body."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object sent with Content-Type: application/json")
    return body


def string_field(
    body: dict[str, Any], field: str, min_len: int, max_len: int, name_like: bool = False
) -> str:
    value = body.get(field)
    if not isinstance(value, str):
        raise BadRequest(f"'{field}' is required and must be a string")
    if not min_len <= len(value) <= max_len:
        raise BadRequest(f"'{field}' must be {min_len} to {max_len} characters long")
    if name_like and not NAME_PATTERN.match(value):
        raise BadRequest(f"'{field}' may contain only {NAME_RULE}")
    return value


def string_list_field(body: dict[str, Any], field: str, max_items: int) -> list[str]:
    value = body.get(field, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequest(f"'{field}' must be a list of strings")
    if len(value) > max_items:
        raise BadRequest(f"'{field}' may hold at most {max_items} items")
    return value
