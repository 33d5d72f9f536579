"""One user's lifecycle under /api/v1: read, update (display name, disable/enable), soft delete,
an admin's password reset and the password change that a reset (or `flask create-admin`) forces."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from flask import Blueprint, Response
from pydantic import ConfigDict, StringConstraints
from sqlalchemy import select
from werkzeug.exceptions import BadRequest, Conflict, Forbidden

from . import audit, throttle
from .api import _check_password, _token_response
from .audit import Target
from .auth import current_user, require_permission
from .extensions import db
from .guards import live_user, no_store, require_covers, require_not_self
from .models import DISPLAY_NAME_MAX, SERVICE_KIND, USER_KIND, USERNAME_MAX, User
from .openapi import documented
from .openapi import models as answers
from .passwords import PASSWORD_MAX, check_new_password, temporary_password
from .security import hash_password, refuse_if_busy
from .validation import Body, NewPassword, parse_body, text

log = logging.getLogger(__name__)
users = Blueprint("users", __name__, url_prefix="/api/v1")
users.after_request(no_store)

# Printable text: no control characters (they would garble logs and the pages that show the name).
DISPLAY_NAME_PATTERN = r"^[^\x00-\x1f\x7f]*$"
DisplayName = Annotated[str, StringConstraints(max_length=DISPLAY_NAME_MAX, pattern=DISPLAY_NAME_PATTERN)]


class StrictBody(Body):
    # A change request with a misspelt field must not succeed while changing nothing.
    model_config = ConfigDict(strict=True, extra="forbid")


class UserUpdateBody(StrictBody):
    display_name: DisplayName | None = None
    disabled: bool | None = None


class PasswordChangeBody(StrictBody):
    username: Annotated[str, text(1, USERNAME_MAX)]
    current_password: Annotated[str, text(1, PASSWORD_MAX)]
    new_password: NewPassword


@users.get("/users/<id:user_id>")
@documented(
    "One user (404 for none or a deleted one).", responses={200: answers.User}, errors=(404,), tag="users"
)
@require_permission("users:read")
def read_user(user_id: int) -> dict[str, Any]:
    return live_user(user_id).to_dict()


@users.patch("/users/<id:user_id>")
@documented(
    "Change a user's display name and/or disable or enable it. Disabling revokes every token of the "
    "user at once. The caller must hold every permission the user holds, and cannot disable itself.",
    responses={200: answers.User},
    body=UserUpdateBody,
    errors=(404,),
    tag="users",
)
@require_permission("users:update")
def update_user(user_id: int) -> dict[str, Any]:
    """Change `display_name` and/or `disabled`; disabling revokes every token of the user at once."""
    body = parse_body(UserUpdateBody)
    if body.display_name is None and body.disabled is None:
        raise BadRequest("nothing to change: send 'display_name' and/or 'disabled'")
    user = live_user(user_id)
    event = "user.update" if body.disabled is None else ("user.disable" if body.disabled else "user.enable")
    require_covers(user, "changing", event)
    changes: dict[str, Any] = {}
    if body.disabled is not None:
        if body.disabled:
            require_not_self(user, "disable", event)
            if user.disabled_at is None:
                user.disabled_at = datetime.now(UTC)
            user.revoke_tokens()
            changes["tokens_revoked"] = True
        else:
            user.disabled_at = None  # its old tokens stay revoked
        changes["disabled"] = body.disabled
    if body.display_name is not None:
        user.display_name = body.display_name
        changes["display_name"] = body.display_name
    audit.record(event, target=Target.user(user), details=changes)
    db.session.commit()
    log.info("user %r updated by %r", user.username, current_user().username)
    return user.to_dict()


@users.delete("/users/<id:user_id>")
@documented(
    "Delete a user (soft: disabled, roles and tokens gone, the name never reused). The caller must "
    "hold every permission the user holds, and cannot delete itself.",
    responses={204: None},
    errors=(404,),
    tag="users",
)
@require_permission("users:delete")
def delete_user(user_id: int) -> Response:
    """Soft delete: the row stays (disabled, no roles, tokens revoked) and the name is never reused."""
    user = live_user(user_id)
    require_not_self(user, "delete", "user.delete")
    require_covers(user, "deleting", "user.delete")
    now = datetime.now(UTC)
    user.deleted_at = now
    user.disabled_at = user.disabled_at or now
    user.roles = []
    user.must_change_password = False
    user.revoke_tokens()
    audit.record("user.delete", target=Target.user(user), details={"soft": True, "tokens_revoked": True})
    db.session.commit()
    log.info("user %r deleted by %r", user.username, current_user().username)
    return Response(status=204)


@users.post("/users/<id:user_id>/password-reset")
@documented(
    "Give a user a random temporary password (shown once) that it must change at the next login; "
    "revokes its tokens. Not for one's own account nor a service account.",
    responses={200: answers.PasswordReset},
    errors=(404, 409),
    tag="users",
)
@require_permission("users:reset-password")
def reset_password(user_id: int) -> dict[str, Any]:
    """A random temporary password, shown once; the user must replace it at the next login."""
    user = live_user(user_id)
    if user.kind == SERVICE_KIND:
        raise Conflict(f"user {user_id} is a service account: POST /api/v1/service-accounts/{user_id}/secret")
    require_not_self(user, "reset the password of", "user.password.reset")
    require_covers(user, "resetting the password", "user.password.reset")
    password = temporary_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    user.revoke_tokens()
    details = {"change_required": True, "tokens_revoked": True}
    audit.record("user.password.reset", target=Target.user(user), details=details)
    db.session.commit()
    throttle.unlock(throttle.account_key(user.username))
    log.info("password of %r reset by %r", user.username, current_user().username)
    return {"user": user.to_dict(), "temporary_password": password}


@users.post("/auth/password-change")
@documented(
    "Change a password without a token (username and current password), the way out of 403 "
    "password_change_required after a reset. Throttled like a login; answers with a token.",
    responses={200: answers.Token},
    body=PasswordChangeBody,
    auth=False,
    errors=(401, 403, 429, 503),
    tag="auth",
)
def change_password_with_current() -> tuple[dict[str, Any], int]:
    """Without a token: username, current password and a new one; answers with a token.

    The way out of `password_change_required` (no token is issued before), and throttled like a login.
    """
    body = parse_body(PasswordChangeBody)
    refuse_if_busy()
    user = db.session.scalar(
        select(User).where(User.username == body.username, User.kind == USER_KIND, User.deleted_at.is_(None))
    )
    _check_password(user, body.username, body.current_password, "user.password.change")
    assert user is not None  # _check_password refused an unknown name
    throttle.record_success(body.username)
    if user.disabled_at is not None:
        details = {"reason": "user disabled"}
        audit.record("user.password.change", "denied", actor=audit.Actor.of(user), details=details)
        raise Forbidden("this user is disabled")
    check_new_password(body.current_password, body.new_password)
    user.password_hash = hash_password(body.new_password)
    user.must_change_password = False
    user.revoke_tokens()
    audit.set_actor(audit.Actor.of(user))
    audit.record("user.password.change", target=Target.user(user), details={"tokens_revoked": True})
    db.session.commit()
    log.info("password changed by %r at the password-change endpoint; older tokens revoked", user.username)
    return _token_response(user), 200
