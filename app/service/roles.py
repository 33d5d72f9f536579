"""Roles under /api/v1: list, read, update, delete, and revoking a role from a user.

The escalation rule of creating and granting (api.py) holds here too: whoever changes, deletes or
revokes a role holds every permission it had and every permission it will have, so nobody hands
out, or takes from others, more than it holds. Role `admin` (every permission; `flask create-admin`
and registered permissions rely on it) cannot be renamed, cut down or deleted through the API.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from flask import Blueprint, Response
from pydantic import ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest, Conflict

from . import audit
from .audit import Target
from .auth import current_user, require_permission
from .cli import ADMIN_ROLE
from .extensions import db
from .guards import live_user, no_store, require_held, role_by_id, role_named
from .models import DESCRIPTION_MAX, PERMISSION_NAME_MAX, ROLE_NAME_MAX, Permission, Role
from .openapi import documented
from .openapi import models as answers
from .validation import NAME_PATTERN, PERMISSIONS_PER_ROLE_MAX, Body, parse_body

log = logging.getLogger(__name__)
roles = Blueprint("roles", __name__, url_prefix="/api/v1")
roles.after_request(no_store)


class RoleUpdateBody(Body):
    model_config = ConfigDict(strict=True, extra="forbid")

    name: (
        Annotated[str, StringConstraints(min_length=1, max_length=ROLE_NAME_MAX, pattern=NAME_PATTERN)] | None
    ) = None
    description: Annotated[str, StringConstraints(max_length=DESCRIPTION_MAX)] | None = None
    permissions: list[Annotated[str, StringConstraints(max_length=PERMISSION_NAME_MAX)]] | None = Field(
        default=None, max_length=PERMISSIONS_PER_ROLE_MAX
    )


def known_permissions(wanted: set[str]) -> list[Permission]:
    """The Permission rows named in `wanted`; 400 naming the unknown ones and the known ones."""
    found = db.session.scalars(select(Permission).where(Permission.name.in_(wanted))).all()
    unknown = wanted - {p.name for p in found}
    if unknown:
        known = db.session.scalars(select(Permission.name).order_by(Permission.name)).all()
        raise BadRequest(f"unknown permissions {sorted(unknown)}; known: {list(known)}")
    return list(found)


def _refuse_admin_role(role: Role, action: str, event: str) -> None:
    if role.name == ADMIN_ROLE:
        audit.record(event, "denied", target=Target.role(role), details={"reason": f"admin role {action}"})
        raise Conflict(f"role {ADMIN_ROLE!r} holds every permission and cannot be {action}")


@roles.get("/roles")
@documented("Every role, by name.", responses={200: answers.RoleList}, tag="roles")
@require_permission("roles:read")
def list_roles() -> dict[str, Any]:
    return {"roles": [role.to_dict() for role in db.session.scalars(select(Role).order_by(Role.name))]}


@roles.get("/roles/<id:role_id>")
@documented("One role.", responses={200: answers.Role}, errors=(404,), tag="roles")
@require_permission("roles:read")
def read_role(role_id: int) -> dict[str, Any]:
    return role_by_id(role_id).to_dict()


@roles.patch("/roles/<id:role_id>")
@documented(
    "Rename a role, change its description and/or replace its permissions. The caller must hold every "
    "permission the role has and will have; role admin keeps its name and permissions.",
    responses={200: answers.Role},
    body=RoleUpdateBody,
    errors=(404, 409),
    tag="roles",
)
@require_permission("roles:update")
def update_role(role_id: int) -> dict[str, Any]:
    """Change `name`, `description` and/or `permissions` (the whole new list)."""
    body = parse_body(RoleUpdateBody)
    if body.name is None and body.description is None and body.permissions is None:
        raise BadRequest("nothing to change: send 'name', 'description' and/or 'permissions'")
    role = role_by_id(role_id)
    old_name = role.name
    target = Target.role(role)
    require_held((p.name for p in role.permissions), f"changing role {old_name!r}", "role.update", target)
    changes: dict[str, Any] = {}
    if body.permissions is not None:
        wanted = set(body.permissions)
        permissions = known_permissions(wanted)
        require_held(wanted, f"changing role {old_name!r}", "role.update", target)
        if {p.name for p in permissions} != {p.name for p in role.permissions}:
            _refuse_admin_role(role, "given other permissions", "role.update")
        changes["permissions"] = sorted(wanted)
        role.permissions = permissions
    if body.name is not None and body.name != role.name:
        _refuse_admin_role(role, "renamed", "role.update")
        changes["name"] = body.name
        existing = role_named(body.name)
        if existing is not None:
            raise Conflict(f"role {body.name!r} already exists")
        role.name = body.name
    if body.description is not None:
        role.description = body.description
        changes["description"] = body.description
    audit.record("role.update", target=target, details=changes)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"role {body.name!r} already exists") from None
    log.info("role %r updated by %r", old_name, current_user().username)
    return role.to_dict()


@roles.delete("/roles/<id:role_id>")
@documented(
    "Delete a role and every grant of it. The caller must hold its permissions; role admin stays.",
    responses={204: None},
    errors=(404, 409),
    tag="roles",
)
@require_permission("roles:delete")
def delete_role(role_id: int) -> Response:
    """The role goes, and with it every grant of it (the holders lose its permissions at once)."""
    role = role_by_id(role_id)
    _refuse_admin_role(role, "deleted", "role.delete")
    target = Target.role(role)
    require_held((p.name for p in role.permissions), f"deleting role {role.name!r}", "role.delete", target)
    name = role.name
    audit.record("role.delete", target=target, details={"permissions": [p.name for p in role.permissions]})
    db.session.delete(role)
    db.session.commit()
    log.info("role %r deleted by %r", name, current_user().username)
    return Response(status=204)


@roles.delete("/users/<id:user_id>/roles/<id:role_id>")
@documented(
    "Revoke a role from a user (revoking one it does not hold changes nothing). The caller must hold "
    "the role's permissions.",
    responses={200: answers.User},
    errors=(404,),
    tag="roles",
)
@require_permission("roles:revoke")
def revoke_role(user_id: int, role_id: int) -> dict[str, Any]:
    """Take a role from a user: effective on the user's next request. Revoking a role the user does
    not hold changes nothing (as granting twice does)."""
    user = live_user(user_id)
    role = role_by_id(role_id)
    target = Target.user(user)
    require_held((p.name for p in role.permissions), f"revoking role {role.name!r}", "role.revoke", target)
    if role in user.roles:
        user.roles.remove(role)
        audit.record("role.revoke", target=target, details={"role": role.name})
        db.session.commit()
        log.info("role %r revoked from %r by %r", role.name, user.username, current_user().username)
    return user.to_dict()
