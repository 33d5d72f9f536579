"""The /api/v1 routes: login, the current user, users, roles, grants and the authorize check."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import BadRequest, Conflict, Forbidden, NotFound, Unauthorized

from .auth import current_user, require_permission
from .extensions import db
from .models import Permission, Role, User
from .security import hash_password, issue_token, needs_rehash, verify_password
from .validation import AuthorizeBody, GrantRoleBody, LoginBody, NewRoleBody, NewUserBody, parse_body

LIST_LIMIT_MAX = 500

log = logging.getLogger(__name__)
api = Blueprint("api", __name__, url_prefix="/api/v1")


def _commit_or_conflict(message: str) -> None:
    """Commit; a unique-constraint race (two creates at once) becomes 409, not 500."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(message) from None


@api.post("/auth/login")
def login() -> tuple[dict[str, Any], int]:
    body = parse_body(LoginBody)
    username, password = body.username, body.password
    user = db.session.scalar(select(User).where(User.username == username))
    # Verify before looking at `user`: an unknown name must take as long as a wrong password.
    if not verify_password(user.password_hash if user else None, password) or user is None:
        log.info("login failed for %r", username)
        raise Unauthorized("wrong username or password")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.commit()
    ttl = current_app.config["TOKEN_TTL_SECONDS"]
    token = issue_token(user.id, current_app.config["SECRET_KEY"], ttl)
    log.info("login ok for %r", username)
    return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}, 200


@api.get("/users/me")
def me() -> dict[str, Any]:
    user = current_user()
    return {
        "user": user.to_dict(),
        "roles": [role.name for role in user.roles],
        "permissions": user.permission_names(),
    }


@api.get("/users")
@require_permission("users:read")
def list_users() -> dict[str, Any]:
    limit = request.args.get("limit", 100, type=int)
    offset = request.args.get("offset", 0, type=int)
    if not 1 <= limit <= LIST_LIMIT_MAX or offset < 0:
        raise BadRequest(f"'limit' must be 1 to {LIST_LIMIT_MAX} and 'offset' 0 or more")
    query = select(User).options(selectinload(User.roles)).order_by(User.id).limit(limit).offset(offset)
    users = db.session.scalars(query).all()
    return {"users": [user.to_dict() for user in users], "limit": limit, "offset": offset}


@api.post("/users")
@require_permission("users:create")
def create_user() -> tuple[dict[str, Any], int]:
    body = parse_body(NewUserBody)
    username, password = body.username, body.password
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists")
    user = User(username=username, password_hash=hash_password(password))
    db.session.add(user)
    _commit_or_conflict(f"user {username!r} already exists")
    log.info("user %r created by %r", username, current_user().username)
    return user.to_dict(), 201


@api.post("/roles")
@require_permission("roles:create")
def create_role() -> tuple[dict[str, Any], int]:
    body = parse_body(NewRoleBody)
    name, wanted = body.name, set(body.permissions)
    permissions = db.session.scalars(select(Permission).where(Permission.name.in_(wanted))).all()
    unknown = wanted - {p.name for p in permissions}
    if unknown:
        known = db.session.scalars(select(Permission.name).order_by(Permission.name)).all()
        raise BadRequest(f"unknown permissions {sorted(unknown)}; known: {list(known)}")
    if db.session.scalar(select(Role.id).where(Role.name == name)) is not None:
        raise Conflict(f"role {name!r} already exists")
    role = Role(name=name, permissions=list(permissions))
    db.session.add(role)
    _commit_or_conflict(f"role {name!r} already exists")
    log.info("role %r created by %r", name, current_user().username)
    return role.to_dict(), 201


@api.post("/users/<int:user_id>/roles")
@require_permission("roles:grant")
def grant_role(user_id: int) -> dict[str, Any]:
    role_name = parse_body(GrantRoleBody).role
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    role = db.session.scalar(select(Role).where(Role.name == role_name))
    if role is None:
        raise NotFound(f"role {role_name!r} not found")
    if role not in user.roles:  # granting twice is a no-op, not an error
        user.roles.append(role)
        _commit_or_conflict(f"role {role_name!r} is already granted")
        log.info("role %r granted to %r by %r", role_name, user.username, current_user().username)
    return user.to_dict()


@api.post("/authorize")
def authorize() -> dict[str, Any]:
    """For other services: does the bearer token's user hold `permission`? 200 yes, 403 no, 401 bad token."""
    user = current_user()
    permission = parse_body(AuthorizeBody).permission
    if permission not in user.permission_names():
        raise Forbidden(f"missing permission {permission!r}")
    return {"allowed": True, "user": {"id": user.id, "username": user.username}, "permission": permission}
