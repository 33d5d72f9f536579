"""The bearer-token check and the permission guard the API routes use."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import current_app, g, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized

from .extensions import db
from .models import User
from .security import InvalidToken, user_id_from_token

P = ParamSpec("P")
R = TypeVar("R")


def _unauthorized(message: str) -> Unauthorized:
    # RFC 6750: tell the client which scheme to use.
    return Unauthorized(message, www_authenticate=WWWAuthenticate("Bearer"))


def current_user() -> User:
    """The user the request's bearer token names; 401 when the token is missing, bad or expired."""
    if "user" in g:
        return g.user
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("missing bearer token (send 'Authorization: Bearer <token>')")
    try:
        user_id = user_id_from_token(token.strip(), current_app.config["SECRET_KEY"])
    except InvalidToken as error:
        raise _unauthorized(str(error)) from None
    user = db.session.get(User, user_id)
    if user is None:
        raise _unauthorized("invalid token: the user no longer exists")
    g.user = user
    return user


def require_permission(permission: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Route decorator: 401 without a valid token, 403 when the user's roles lack `permission`."""

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            user = current_user()
            if permission not in user.permission_names():
                raise Forbidden(f"missing permission {permission!r}")
            return view(*args, **kwargs)

        return guarded

    return decorator
