"""The /api/v1 routes: login, the current user, users, roles, grants and the authorize check."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import BadRequest, Conflict, Forbidden, NotFound, Unauthorized

from . import audit, throttle, tokens
from .audit import Actor, Target
from .auth import check_account, current_user, require_permission, token_subject
from .extensions import db
from .models import USER_KIND, Permission, Role, User, username_key
from .openapi import documented
from .openapi import models as answers
from .passwords import PasswordChangeRequired, check_new_password
from .queries import authorize_row
from .security import (
    TokenSettings,
    hash_password,
    issue_token,
    needs_rehash,
    refuse_if_busy,
    verify_password,
)
from .signing_keys import signing_key_or_503
from .validation import (
    AuthorizeBody,
    GrantRoleBody,
    LoginBody,
    NewPasswordBody,
    NewRoleBody,
    NewUserBody,
    PageQuery,
    parse_body,
    parse_query,
)

log = logging.getLogger(__name__)
api = Blueprint("api", __name__, url_prefix="/api/v1")


@api.after_request
def no_store(response: Response) -> Response:
    # Tokens and user data: no browser or proxy cache may keep them.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _commit_or_conflict(message: str, audited: Callable[[], object] | None = None) -> None:
    """Commit; a unique-constraint race (two creates at once) becomes 409, not 500.

    `audited` runs after the flush (new rows have their ids) and before the commit: the audit record
    it writes is committed with the change, or not at all.
    """
    try:
        if audited is not None:
            db.session.flush()
            audited()
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(message) from None


def _token_response(user: User) -> dict[str, Any]:
    ttl = current_app.config["TOKEN_TTL_SECONDS"]
    key = signing_key_or_503()
    token = issue_token(user.id, user.token_version, TokenSettings.from_app(), ttl, key)
    return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}


def _client_address() -> str:
    # The client observe.py settled on: X-Forwarded-For's last hop only from TRUSTED_PROXIES (the
    # front proxy), else the TCP peer, so a client cannot name another address to dodge throttling.
    return str(g.get("client") or request.remote_addr or "unknown")


def _claimed(user: User | None, username: str) -> Actor:
    """The actor of a login attempt: the account when the name exists, else the name as sent."""
    return Actor.of(user) if user is not None else Actor("anonymous", None, username)


def _check_password(user: User | None, username: str, password: str, action: str) -> None:
    """401 unless `password` is `user`'s; 429 while throttled; every failure counts toward a lock.
    Refusals are audited as `action` (never with the password)."""
    address = _client_address()
    try:
        throttle.refuse_if_locked(username, address)
    except throttle.Throttled as refused:
        # One record per lock and worker: a refusal is the cheap answer to a flood (a read), and one
        # write per refused attempt would make it an expensive one. The log has every refusal.
        if audit.first_in_window((action, refused.lock), until=max(until for _, until in refused.lock)):
            details = {"reason": refused.description, "locked": [key for key, _ in refused.lock]}
            audit.record(action, "throttled", actor=_claimed(user, username), details=details)
        raise
    # Verify before looking at `user`: an unknown name must take as long as a wrong password.
    if not verify_password(user.password_hash if user else None, password) or user is None:
        throttle.record_failure(username, address)
        log.info("login failed for %r from %s", username, address)
        reason = "unknown user" if user is None else "wrong password"
        audit.record(action, "failure", actor=_claimed(user, username), details={"reason": reason})
        raise Unauthorized("wrong username or password")


@api.post("/auth/login")
@documented(
    "Log in: a bearer token for a username and password. Failures count toward a lock (429).",
    responses={200: answers.Token},
    body=LoginBody,
    auth=False,
    errors=(401, 403, 429, 503),
    tag="auth",
)
def login() -> tuple[dict[str, Any], int]:
    body = parse_body(LoginBody)
    username, password = body.username, body.password
    refuse_if_busy()  # in a flood, refuse before any database work
    # A deleted user or a service account (POST /auth/token) is refused like an unknown name.
    user = db.session.scalar(
        select(User).where(User.username == username, User.kind == USER_KIND, User.deleted_at.is_(None))
    )
    _check_password(user, username, password, "auth.login")
    assert user is not None  # _check_password refused an unknown name
    if user.disabled_at is not None:
        throttle.record_success(username)  # the right password still clears the account's failures
        log.info("login refused for disabled user %r", username)
        audit.record("auth.login", "denied", actor=Actor.of(user), details={"reason": "user disabled"})
        raise Forbidden("this user is disabled")
    if user.must_change_password:
        log.info("login of %r needs a password change first", username)
        details = {"reason": "password change required"}
        audit.record("auth.login", "denied", actor=Actor.of(user), details=details)
        raise PasswordChangeRequired(
            "this password was set by an administrator and must be changed first: "
            "POST /api/v1/auth/password-change with username, current_password and new_password"
        )
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit.record("auth.login", actor=Actor.of(user))
    throttle.record_success(username)  # one commit: the cleared failures, any rehash and the record
    log.info("login ok for %r", username)
    return _token_response(user), 200


@api.post("/auth/logout")
@documented(
    "Log out: revoke the bearer token this request carries (only it: the user's other tokens keep "
    "working). Afterwards that token is 401 on every route until it expires.",
    responses={204: None},
    tag="auth",
)
def logout() -> tuple[str, int]:
    """Revoke the bearer token this request carries (only it: the user's other tokens keep working)."""
    user = current_user()  # 401 for a token that is already bad, logged out included
    tokens.revoke(token_subject())
    log.info("logout by %r", user.username)
    return "", 204


@api.get("/users/me")
@documented("The current user, their roles and permissions.", responses={200: answers.Me}, tag="users")
def me() -> dict[str, Any]:
    user = current_user()
    return {
        "user": user.to_dict(),
        "roles": [role.name for role in user.roles],
        "permissions": user.permission_names(),
    }


@api.put("/users/me/password")
@documented(
    "Change one's own password (the current one is checked and throttled like a login). "
    "Every older token stops working; the answer is a new token.",
    responses={200: answers.Token},
    body=NewPasswordBody,
    errors=(429, 503),
    tag="users",
)
def change_password() -> tuple[dict[str, Any], int]:
    """Change one's own password (the current one is checked, and throttled like a login).

    Every token issued before stops working; the answer is a new token for this client.
    """
    user = current_user()
    body = parse_body(NewPasswordBody)
    _check_password(user, user.username, body.current_password, "user.password.change")
    check_new_password(body.current_password, body.new_password)
    user.password_hash = hash_password(body.new_password)
    user.revoke_tokens()
    audit.record("user.password.change", target=Target.user(user), details={"tokens_revoked": True})
    db.session.commit()
    log.info("password changed by %r; older tokens revoked", user.username)
    return _token_response(user), 200


@api.get("/users")
@documented("List users, by id.", responses={200: answers.UserPage}, query=PageQuery, tag="users")
@require_permission("users:read")
def list_users() -> dict[str, Any]:
    page = parse_query(PageQuery)
    limit, offset = page.limit, page.offset
    query = (
        select(User)
        .where(User.deleted_at.is_(None))
        .options(selectinload(User.roles))
        .order_by(User.id)
        .limit(limit)
        .offset(offset)
    )
    users = db.session.scalars(query).all()
    return {"users": [user.to_dict() for user in users], "limit": limit, "offset": offset}


def _username_taken(username: str) -> bool:
    return db.session.scalar(select(User.id).where(User.username_key == username_key(username))) is not None


@api.post("/users")
@documented(
    "Create a user. Usernames are unique whatever their case.",
    responses={201: answers.User},
    body=NewUserBody,
    errors=(409, 503),
    tag="users",
)
@require_permission("users:create")
def create_user() -> tuple[dict[str, Any], int]:
    body = parse_body(NewUserBody)
    username, password = body.username, body.password
    taken = f"user {username!r} already exists (usernames are the same whatever their case)"
    if _username_taken(username):
        raise Conflict(taken)
    user = User(username=username, password_hash=hash_password(password))
    db.session.add(user)
    _commit_or_conflict(taken, lambda: audit.record("user.create", target=Target.user(user)))
    log.info("user %r created by %r", username, current_user().username)
    return user.to_dict(), 201


def _require_held(permissions: Iterable[str], doing: str, event: str, target: Target) -> None:
    """403 unless the current user holds every one of `permissions`: nobody hands out more than it has.
    A refusal is audited as `event` on `target`."""
    missing = sorted(set(permissions) - set(current_user().permission_names()))
    if missing:
        audit.record(event, "denied", target=target, details={"missing_permissions": missing})
        raise Forbidden(f"{doing} needs permissions you do not hold: {missing}")


@api.post("/roles")
@documented(
    "Create a role from known permissions, each held by the caller.",
    responses={201: answers.Role},
    body=NewRoleBody,
    errors=(409,),
    tag="roles",
)
@require_permission("roles:create")
def create_role() -> tuple[dict[str, Any], int]:
    body = parse_body(NewRoleBody)
    name, wanted = body.name, set(body.permissions)
    permissions = db.session.scalars(select(Permission).where(Permission.name.in_(wanted))).all()
    unknown = wanted - {p.name for p in permissions}
    if unknown:
        known = db.session.scalars(select(Permission.name).order_by(Permission.name)).all()
        raise BadRequest(f"unknown permissions {sorted(unknown)}; known: {list(known)}")
    _require_held(wanted, f"creating role {name!r}", "role.create", Target("role", None, name))
    if db.session.scalar(select(Role.id).where(Role.name == name)) is not None:
        raise Conflict(f"role {name!r} already exists")
    role = Role(name=name, permissions=list(permissions))
    db.session.add(role)
    _commit_or_conflict(
        f"role {name!r} already exists",
        lambda: audit.record(
            "role.create", target=Target.role(role), details={"permissions": sorted(wanted)}
        ),
    )
    log.info("role %r created by %r", name, current_user().username)
    return role.to_dict(), 201


@api.post("/users/<id:user_id>/roles")
@documented(
    "Grant a role to a user (granting it again changes nothing). The caller must hold its permissions.",
    responses={200: answers.User},
    body=GrantRoleBody,
    errors=(404, 409),
    tag="roles",
)
@require_permission("roles:grant")
def grant_role(user_id: int) -> dict[str, Any]:
    role_name = parse_body(GrantRoleBody).role
    user = db.session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise NotFound(f"user {user_id} not found")
    role = db.session.scalar(select(Role).where(Role.name == role_name))
    if role is None:
        raise NotFound(f"role {role_name!r} not found")
    granted = {"role": role.name, "role_id": role.id}
    _require_held(
        (p.name for p in role.permissions), f"granting role {role_name!r}", "role.grant", Target.user(user)
    )
    if role not in user.roles:  # granting twice is a no-op, not an error (and not an event)
        user.roles.append(role)
        audit.record("role.grant", target=Target.user(user), details=granted)
        _commit_or_conflict(f"role {role_name!r} is already granted")
        log.info("role %r granted to %r by %r", role_name, user.username, current_user().username)
    return user.to_dict()


@api.get("/audit-events")
@documented(
    "The audit trail: security-relevant events, newest first, filtered and paged by before_id.",
    responses={200: answers.AuditEventPage},
    query=audit.AuditQuery,
    tag="audit",
)
@require_permission("audit:read")
def list_audit_events() -> dict[str, Any]:
    """The audit trail, newest first, filtered and paged (service/audit.py, docs/contract.md)."""
    return audit.list_events()


@api.post("/authorize")
@documented(
    "For other services: does the bearer token's user hold the permission? 200 yes, 403 no.",
    responses={200: answers.Authorized},
    body=AuthorizeBody,
    errors=(403,),
    tag="auth",
)
def authorize() -> dict[str, Any]:
    """For other services: does the bearer token's user hold `permission`? 200 yes, 403 no, 401 bad token.

    One query (service/queries.py) answers both "is this token still good" and "may they": the
    hot path of the service. The checks and their order are current_user()'s: 401 before 400 before 403.
    """
    subject = token_subject()
    try:
        permission = parse_body(AuthorizeBody).permission
    except BadRequest:
        current_user()  # a revoked or unknown user's token is a 401 even with a bad body
        raise
    row = authorize_row(subject.user_id, permission, subject.jti)
    check_account(subject, row, revoked=row is not None and row.revoked)
    assert row is not None  # check_account refused a missing user
    if not row.allowed:
        actor = Actor("user", row.id, row.username)
        audit.record("authorize", "denied", actor=actor, target=Target.permission(permission))
        raise Forbidden(f"missing permission {permission!r}")
    return {"allowed": True, "user": {"id": row.id, "username": row.username}, "permission": permission}
