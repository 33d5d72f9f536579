"""The JSON bodies the API accepts, as pydantic models; a bad body is a 400 naming each field and its rule."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from flask import request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pydantic_core import ErrorDetails
from werkzeug.exceptions import BadRequest

from .models import PERMISSION_NAME_MAX, ROLE_NAME_MAX, USERNAME_MAX
from .passwords import PASSWORD_MAX, PASSWORD_MIN, check_common
from .security import MAX_ID

USERNAME_MIN = 3
PERMISSIONS_PER_ROLE_MAX = 100
LIST_LIMIT_MAX = 500

# pydantic matches with the Rust regex engine, where `$` is the end of the text (Python's re would
# also let a trailing newline through).
NAME_PATTERN = r"^[A-Za-z0-9_.@-]+$"
NAME_RULE = "letters, digits, '_', '.', '@' or '-'"
# Every string in a body: no NUL (check_json_values refuses it anywhere, first); said here too so the
# OpenAPI document tells clients.
TEXT_PATTERN = r"^[^\x00]*$"
# A permission another service registers (service/permissions.py): `<service>:<action>`.
PERMISSION_PATTERN = r"^[a-z][a-z0-9-]*:[a-z][a-z0-9.-]*$"
PERMISSION_RULE = "lower-case letters, digits and '-' as '<service>:<action>' ('.' also in the action)"
# pydantic's own message would quote the regex; clients get the rule in words instead.
PATTERN_RULES = {
    NAME_PATTERN: NAME_RULE,
    TEXT_PATTERN: "no NUL characters (\\u0000)",
    PERMISSION_PATTERN: PERMISSION_RULE,
}
ERRORS_REPORTED_MAX = 5  # a list of 100 wrong items would otherwise make a 100-line message
JSON_DEPTH_MAX = 16  # the bodies are flat objects with at most a list of names

NewUsername = Annotated[
    str, StringConstraints(min_length=USERNAME_MIN, max_length=USERNAME_MAX, pattern=NAME_PATTERN)
]
# The policy of service/passwords.py: length first, then the shipped list of common passwords.
NewPassword = Annotated[
    str,
    StringConstraints(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX, pattern=TEXT_PATTERN),
    AfterValidator(check_common),
]


def text(min_length: int, max_length: int) -> StringConstraints:
    """A body string of min_length..max_length characters, without NUL."""
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=TEXT_PATTERN)


class Body(BaseModel):
    # strict: a string field takes only a JSON string, never 123 or true. Unknown fields are ignored.
    model_config = ConfigDict(strict=True)


class LoginBody(Body):
    # Only lengths here: login must work for every stored name, whatever rules it was made under.
    username: Annotated[str, text(1, USERNAME_MAX)]
    password: Annotated[str, text(1, PASSWORD_MAX)]


class NewUserBody(Body):
    username: NewUsername
    password: NewPassword


class NewPasswordBody(Body):
    current_password: Annotated[str, text(1, PASSWORD_MAX)]
    new_password: NewPassword


class NewRoleBody(Body):
    name: Annotated[str, StringConstraints(min_length=1, max_length=ROLE_NAME_MAX, pattern=NAME_PATTERN)]
    # No minimum length per item: an empty name is reported as an unknown permission.
    permissions: list[Annotated[str, text(0, PERMISSION_NAME_MAX)]] = Field(
        default_factory=list, max_length=PERMISSIONS_PER_ROLE_MAX
    )


class GrantRoleBody(Body):
    role: Annotated[str, text(1, ROLE_NAME_MAX)]


class AuthorizeBody(Body):
    permission: Annotated[str, text(1, PERMISSION_NAME_MAX)]


class Query(BaseModel):
    # Query values are text: '5' is the number 5 here (lax), but 'abc' or '1.5' is a 400, not a default.
    # An unknown parameter is a 400 too: '?limt=5' must not quietly answer 100 rows.
    model_config = ConfigDict(extra="forbid")


class PageQuery(Query):
    limit: int = Field(100, ge=1, le=LIST_LIMIT_MAX, description="how many at most")
    offset: int = Field(0, ge=0, le=MAX_ID, description="how many to skip")


def json_object() -> dict[str, Any]:
    """The request body as a JSON object; 400 for a missing, non-JSON or non-object body."""
    not_an_object = BadRequest("request body must be a JSON object sent with Content-Type: application/json")
    if not request.is_json:
        raise not_an_object
    try:
        body = json.loads(request.get_data(cache=True))
    except ValueError:
        raise not_an_object from None
    except RecursionError:  # ~1,000 nested brackets overflow the parser's own stack
        raise BadRequest(f"request body is nested deeper than {JSON_DEPTH_MAX} levels") from None
    if not isinstance(body, dict):
        raise not_an_object
    check_json_values(body)
    return body


def check_json_values(body: dict[str, Any]) -> None:
    """400 for nesting deeper than JSON_DEPTH_MAX and for NUL characters, which PostgreSQL cannot
    store or compare (it would fail the query with a 500); walked without recursion."""
    pending: list[tuple[Any, int]] = [(body, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > JSON_DEPTH_MAX:
            raise BadRequest(f"request body is nested deeper than {JSON_DEPTH_MAX} levels")
        if isinstance(value, dict):
            pending.extend((key, depth) for key in value)
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and "\x00" in value:
            raise BadRequest("request body must not contain NUL characters (\\u0000)")


BodyT = TypeVar("BodyT", bound=Body)


def parse_body(model: type[BodyT]) -> BodyT:
    """The request body as `model`; 400 naming every bad field and what it allows."""
    try:
        return model.model_validate(json_object())
    except ValidationError as error:
        raise BadRequest(describe(error)) from None


QueryT = TypeVar("QueryT", bound=Query)


def parse_query(model: type[QueryT]) -> QueryT:
    """The query string as `model` (a name given twice: the first value); 400 naming every bad parameter."""
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as error:
        raise BadRequest(describe(error)) from None


def describe(error: ValidationError) -> str:
    """One readable line, e.g. "'username': String should have at least 3 characters; 'password': ..."."""
    # include_input=False: the rejected value (a password, say) never reaches the response or the logs.
    details = error.errors(include_url=False, include_input=False)
    parts = [_describe_one(detail) for detail in details[:ERRORS_REPORTED_MAX]]
    if len(details) > ERRORS_REPORTED_MAX:
        parts.append(f"and {len(details) - ERRORS_REPORTED_MAX} more errors")
    return "; ".join(parts)


def _describe_one(detail: ErrorDetails) -> str:
    message = detail["msg"]
    if detail["type"] == "string_pattern_mismatch":
        rule = PATTERN_RULES.get(str(detail.get("ctx", {}).get("pattern")))
        if rule is not None:
            message = f"String should contain only {rule}"
    where = field_path(detail["loc"])
    return f"'{where}': {message}" if where else message


def field_path(loc: Sequence[int | str]) -> str:
    """('permissions', 2) -> 'permissions[2]'; () (a bare value, as the CLI checks) -> ''."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path
