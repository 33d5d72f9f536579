"""The bearer-token check and the permission guard the API routes use."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import ParamSpec, Protocol, TypeVar

from flask import g, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized

from . import audit
from .extensions import db
from .models import User
from .security import InvalidToken, TokenSettings, TokenSubject, subject_from_token
from .tokens import is_revoked

P = ParamSpec("P")
R = TypeVar("R")


def _unauthorized(message: str) -> Unauthorized:
    # RFC 6750: tell the client which scheme to use.
    return Unauthorized(message, www_authenticate=WWWAuthenticate("Bearer"))


def current_user() -> User:
    """The user the request's bearer token names; 401 when the token is missing, bad, expired or revoked.

    Only the Authorization header counts: a token in the query string (?access_token=) would end up
    in access logs, proxies and browser history, so it is never read.
    """
    if "user" in g:
        return g.user
    subject = token_subject()
    user = db.session.get(User, subject.user_id)
    check_account(subject, user, revoked=user is not None and is_revoked(subject.jti))
    assert user is not None  # check_account refused a missing user
    g.user = user
    return user


def token_subject() -> TokenSubject:
    """The user id and token version the request's bearer token carries (signature, expiry, issuer
    and audience checked); 401 when the token is missing or bad. The database is not read yet."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("missing bearer token (send 'Authorization: Bearer <token>')")
    try:
        return subject_from_token(token.strip(), TokenSettings.from_app())
    except InvalidToken as error:
        raise _unauthorized(str(error)) from None


class AccountState(Protocol):
    """What the token check reads: a User, or the authorize query's row."""

    @property
    def token_version(self) -> str: ...
    @property
    def disabled_at(self) -> datetime | None: ...


def check_account(subject: TokenSubject, account: AccountState | None, *, revoked: bool) -> None:
    """401 unless the account exists, still has the token's version, is not disabled and the token
    itself was not logged out (`revoked`)."""
    if account is None:
        raise _unauthorized("invalid token: the user no longer exists")
    if not secrets.compare_digest(account.token_version.encode(), subject.token_version.encode()):
        raise _unauthorized("invalid token: revoked (password changed, user disabled or tokens revoked)")
    if account.disabled_at is not None:
        raise _unauthorized("invalid token: the user is disabled")
    if revoked:
        raise _unauthorized("invalid token: logged out")


def require_permission(permission: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Route decorator: 401 without a valid token, 403 when the user's roles lack `permission`."""

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            user = current_user()
            if permission not in user.permission_names():
                where = {
                    "method": request.method,
                    "route": request.url_rule.rule if request.url_rule else None,
                }
                audit.record(
                    "permission.check", "denied", target=audit.Target.permission(permission), details=where
                )
                raise Forbidden(f"missing permission {permission!r}")
            return view(*args, **kwargs)

        guarded.required_permission = permission  # type: ignore[attr-defined]  # read by @documented
        return guarded

    return decorator
