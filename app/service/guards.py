"""The checks the lifecycle endpoints share: find a live user or a role (else 404), and the
privilege-escalation rules (nobody hands out, takes away or takes over more than it holds)."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Response
from sqlalchemy import select
from werkzeug.exceptions import Forbidden, NotFound

from . import audit
from .audit import Target
from .auth import current_user
from .extensions import db
from .models import Role, User


def no_store(response: Response) -> Response:
    """Tokens and user data: no browser or proxy cache may keep them (as the api blueprint does)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def live_user(user_id: int) -> User:
    """The user with this id; 404 when there is none or it was deleted."""
    user = db.session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise NotFound(f"user {user_id} not found")
    return user


def role_by_id(role_id: int) -> Role:
    role = db.session.get(Role, role_id)
    if role is None:
        raise NotFound(f"role {role_id} not found")
    return role


def role_named(name: str) -> Role | None:
    return db.session.scalar(select(Role).where(Role.name == name))


def require_held(permissions: Iterable[str], action: str, event: str, target: Target) -> None:
    """403 unless the current user holds every one of `permissions`; a refusal is audited as
    `event` on `target` (outcome denied)."""
    missing = sorted(set(permissions) - set(current_user().permission_names()))
    if missing:
        audit.record(event, "denied", target=target, details={"missing_permissions": missing})
        raise Forbidden(f"{action} needs permissions you do not hold: {missing}")


def require_covers(target: User, action: str, event: str) -> None:
    """403 unless the current user holds every permission `target` holds: nobody disables, deletes,
    resets or strips an account more powerful than its own (that would be a takeover or a lock-out)."""
    require_held(
        target.permission_names(), f"{action} of user {target.username!r}", event, Target.user(target)
    )


def require_not_self(target: User, action: str, event: str) -> None:
    """403 for acting on one's own account where that could lock the last administrator out."""
    if target.id == current_user().id:
        audit.record(event, "denied", target=Target.user(target), details={"reason": "own account"})
        raise Forbidden(f"you cannot {action} your own account; another administrator must")
