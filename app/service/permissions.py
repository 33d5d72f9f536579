"""Permissions under /api/v1: list them, and let other services register the ones they own, so that
`POST /authorize` answers for them as for the service's own.

A name is `<service>:<action>` (lower case). A namespace (`<service>`) belongs to the principal that
registered its first permission, usually that service's own service account: nobody else may add
to it, and nobody may add to the service's own namespaces (users, roles, ...). Role `admin` gets
every registered permission, so an administrator can put it in roles; roles and grants then follow
the usual escalation rule.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from flask import Blueprint
from pydantic import ConfigDict, StringConstraints
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import Conflict, Forbidden

from . import audit
from .audit import Target
from .auth import current_user, require_permission
from .cli import ADMIN_ROLE
from .extensions import db
from .guards import no_store, role_named
from .models import DESCRIPTION_MAX, PERMISSION_NAME_MAX, PERMISSIONS, Permission, User
from .openapi import documented
from .openapi import models as answers
from .validation import PERMISSION_PATTERN, Body, parse_body

log = logging.getLogger(__name__)
permissions = Blueprint("permissions", __name__, url_prefix="/api/v1")
permissions.after_request(no_store)

# The service's own namespaces: registered by nobody.
BUILTIN_NAMESPACES = frozenset(name.split(":", 1)[0] for name in PERMISSIONS)


class RegisterPermissionBody(Body):
    model_config = ConfigDict(strict=True, extra="forbid")

    name: Annotated[
        str, StringConstraints(min_length=3, max_length=PERMISSION_NAME_MAX, pattern=PERMISSION_PATTERN)
    ]
    description: Annotated[str, StringConstraints(max_length=DESCRIPTION_MAX)] = ""


@permissions.get("/permissions")
@documented(
    "Every permission, by name: the service's own and those other services registered.",
    responses={200: answers.PermissionList},
    tag="permissions",
)
@require_permission("permissions:read")
def list_permissions() -> dict[str, Any]:
    rows = db.session.scalars(select(Permission).order_by(Permission.name))
    return {"permissions": [permission.to_dict() for permission in rows]}


@permissions.post("/permissions")
@documented(
    "Register a permission '<service>:<action>' that another service checks with POST /authorize. "
    "A namespace belongs to whoever registered in it first; 200 when the caller registered it before.",
    responses={200: answers.Permission, 201: answers.Permission},
    body=RegisterPermissionBody,
    errors=(409,),
    tag="permissions",
)
@require_permission("permissions:register")
def register_permission() -> tuple[dict[str, Any], int]:
    """201 for a new permission; 200 when the caller registered it before (its description is updated)."""
    body = parse_body(RegisterPermissionBody)
    namespace = body.name.split(":", 1)[0]
    me = current_user()
    target = Target.permission(body.name)
    if namespace in BUILTIN_NAMESPACES:
        audit.record("permission.register", "denied", target=target, details={"reason": "built-in namespace"})
        raise Forbidden(
            f"namespace {namespace!r} belongs to this service; register under your service's name"
        )
    in_namespace = select(Permission.owner_id).where(
        Permission.name.startswith(f"{namespace}:", autoescape=True)
    )
    others = {owner for owner in db.session.scalars(in_namespace) if owner != me.id}
    if others:
        owner = db.session.get(User, others.pop()) if None not in others else None
        who = repr(owner.username) if owner is not None else "another principal"
        audit.record(
            "permission.register", "denied", target=target, details={"reason": f"namespace of {who}"}
        )
        raise Forbidden(f"namespace {namespace!r} belongs to {who}; only it registers permissions there")
    existing = db.session.scalar(select(Permission).where(Permission.name == body.name))
    if existing is not None:
        existing.description = body.description
        audit.record("permission.register", target=target, details={"description": body.description})
        db.session.commit()
        return existing.to_dict(), 200
    permission = Permission(name=body.name, description=body.description, owner_id=me.id)
    db.session.add(permission)
    admin = role_named(ADMIN_ROLE)
    if admin is not None:
        admin.permissions.append(permission)
    audit.record("permission.register", target=target, details={"description": body.description, "new": True})
    try:
        db.session.commit()
    except IntegrityError:  # two registrations of one name at once
        db.session.rollback()
        raise Conflict(f"permission {body.name!r} is being registered by another request; retry") from None
    log.info("permission %r registered by %r", body.name, me.username)
    return permission.to_dict(), 201
