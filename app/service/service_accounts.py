"""Service accounts: non-human principals. Each is a row of `users` with kind 'service', so roles,
grants, token versions, disabling, deleting and `POST /authorize` work for it exactly as for a
person; it cannot log in with a password. Its client secret is random, shown once, and stored as an
argon2id hash like a password.

- `POST /api/v1/auth/token`: the OAuth 2.0 client credentials grant (RFC 6749, section 4.4); the
  client authenticates with HTTP Basic or with `client_id`/`client_secret` in the body (form or JSON).
- `POST /api/v1/users/<id>/authorize`: "does user X hold permission P", without X's token, for a
  caller holding `users:introspect`.
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated, Any, Literal

from flask import Blueprint, request
from pydantic import ConfigDict, StringConstraints, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest, Conflict, NotFound, Unauthorized

from . import audit, throttle
from .api import _check_password, _token_response
from .audit import Target
from .auth import current_user, require_permission
from .extensions import db
from .guards import live_user, no_store, require_covers
from .models import DISPLAY_NAME_MAX, PERMISSION_NAME_MAX, SERVICE_KIND, USERNAME_MAX, User, username_key
from .openapi import documented
from .openapi import models as answers
from .queries import authorize_row
from .security import hash_password, refuse_if_busy
from .validation import Body, NewUsername, describe, json_object, parse_body

log = logging.getLogger(__name__)
service_accounts = Blueprint("service_accounts", __name__, url_prefix="/api/v1")
service_accounts.after_request(no_store)

SECRET_BYTES = 32  # 256 random bits, URL-safe base64: 43 characters


class NewServiceAccountBody(Body):
    model_config = ConfigDict(strict=True, extra="forbid")

    name: NewUsername
    display_name: Annotated[
        str, StringConstraints(max_length=DISPLAY_NAME_MAX, pattern=r"^[^\x00-\x1f\x7f]*$")
    ] = ""


class ClientCredentialsBody(Body):
    grant_type: Literal["client_credentials"]
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=USERNAME_MAX)]
    client_secret: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class IntrospectBody(Body):
    permission: Annotated[str, StringConstraints(min_length=1, max_length=PERMISSION_NAME_MAX)]


def _new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def _service_account(account_id: int) -> User:
    account = live_user(account_id)
    if account.kind != SERVICE_KIND:
        raise Conflict(f"user {account_id} is a person, not a service account")
    return account


@service_accounts.post("/service-accounts")
@documented(
    "Create a service account; the answer holds its client secret, shown this once.",
    responses={201: answers.ServiceAccountSecret},
    body=NewServiceAccountBody,
    errors=(409, 503),
    tag="service-accounts",
)
@require_permission("service-accounts:manage")
def create_service_account() -> tuple[dict[str, Any], int]:
    """201 with the client secret, shown this once; roles are granted as to a person."""
    body = parse_body(NewServiceAccountBody)
    taken = f"a user or service account {body.name!r} already exists (whatever the case)"
    if db.session.scalar(select(User.id).where(User.username_key == username_key(body.name))) is not None:
        raise Conflict(taken)
    secret = _new_secret()
    account = User(username=body.name, password_hash=hash_password(secret), kind=SERVICE_KIND)
    account.display_name = body.display_name
    db.session.add(account)
    try:
        db.session.flush()  # the account's id, for the audit record committed with it
        audit.record("service_account.create", target=Target.user(account))
        db.session.commit()
    except IntegrityError:  # the same name created at once by another request
        db.session.rollback()
        raise Conflict(taken) from None
    log.info("service account %r created by %r", body.name, current_user().username)
    return {"service_account": account.to_dict(), "client_id": account.username, "client_secret": secret}, 201


@service_accounts.get("/service-accounts")
@documented(
    "Every service account not deleted, by id.",
    responses={200: answers.ServiceAccountList},
    tag="service-accounts",
)
@require_permission("users:read")
def list_service_accounts() -> dict[str, Any]:
    query = select(User).where(User.kind == SERVICE_KIND, User.deleted_at.is_(None)).order_by(User.id)
    return {"service_accounts": [account.to_dict() for account in db.session.scalars(query)]}


@service_accounts.post("/service-accounts/<id:account_id>/secret")
@documented(
    "Replace a service account's client secret (shown once); the old one and its tokens stop working.",
    responses={200: answers.ServiceAccountSecret},
    errors=(404, 409, 503),
    tag="service-accounts",
)
@require_permission("service-accounts:manage")
def replace_secret(account_id: int) -> dict[str, Any]:
    """A new client secret, shown once; the old one and every token issued with it stop working."""
    account = _service_account(account_id)
    require_covers(account, "replacing the secret", "service_account.secret.replace")
    secret = _new_secret()
    account.password_hash = hash_password(secret)
    account.revoke_tokens()
    audit.record(
        "service_account.secret.replace", target=Target.user(account), details={"tokens_revoked": True}
    )
    db.session.commit()
    throttle.unlock(throttle.account_key(account.username))
    log.info("secret of service account %r replaced by %r", account.username, current_user().username)
    return {"service_account": account.to_dict(), "client_id": account.username, "client_secret": secret}


def _client_credentials() -> ClientCredentialsBody:
    """The grant from a form (RFC 6749) or JSON body, the client's id and secret from either the
    body or HTTP Basic (RFC 6749, section 2.3.1)."""
    if request.mimetype == "application/x-www-form-urlencoded":
        fields: dict[str, Any] = request.form.to_dict()
    else:
        fields = json_object()
    basic = request.authorization
    if basic is not None and basic.type == "basic":
        fields["client_id"], fields["client_secret"] = basic.username, basic.password
    try:
        return ClientCredentialsBody.model_validate(fields)
    except ValidationError as error:
        raise BadRequest(describe(error)) from None


@service_accounts.post("/auth/token")
@documented(
    "A bearer token for a service account: the OAuth 2.0 client credentials grant, from a form or "
    "JSON body, the client's id and secret in the body or HTTP Basic. Throttled like a login.",
    responses={200: answers.Token},
    body=ClientCredentialsBody,
    auth=False,
    errors=(401, 429, 503),
    tag="auth",
)
def client_credentials_token() -> tuple[dict[str, Any], int]:
    """A bearer token for a service account; throttled and timed like a login."""
    body = _client_credentials()
    refuse_if_busy()
    account = db.session.scalar(
        select(User).where(
            User.username == body.client_id, User.kind == SERVICE_KIND, User.deleted_at.is_(None)
        )
    )
    try:
        _check_password(account, body.client_id, body.client_secret, "auth.token")
    except Unauthorized:
        raise Unauthorized("wrong client_id or client_secret") from None
    assert account is not None  # _check_password refused an unknown client
    throttle.record_success(body.client_id)
    actor = audit.Actor.of(account)
    if account.disabled_at is not None:
        audit.record("auth.token", "denied", actor=actor, details={"reason": "service account disabled"})
        raise Unauthorized("this service account is disabled")
    audit.record("auth.token", actor=actor)
    db.session.commit()
    log.info("token issued to service account %r", account.username)
    return _token_response(account), 200


@service_accounts.post("/users/<id:user_id>/authorize")
@documented(
    "Does this user hold the permission now? For services asking about a user without its token; "
    "200 either way, false for a disabled user.",
    responses={200: answers.Introspection},
    body=IntrospectBody,
    errors=(404,),
    tag="users",
)
@require_permission("users:introspect")
def introspect(user_id: int) -> dict[str, Any]:
    """Does user `user_id` hold `permission` now? 200 either way (the caller's question is answered);
    a disabled user holds nothing. 404 for no such user."""
    permission = parse_body(IntrospectBody).permission
    live_user(user_id)
    row = authorize_row(user_id, permission)
    if row is None:  # deleted between the two reads
        raise NotFound(f"user {user_id} not found")
    allowed = row.allowed and row.disabled_at is None
    if not allowed:  # as a denied /authorize is: the asking service will refuse this user
        target = audit.Target("user", row.id, row.username)
        audit.record("user.introspect", "denied", target=target, details={"permission": permission})
    return {
        "allowed": allowed,
        "user": {"id": row.id, "username": row.username, "disabled": row.disabled_at is not None},
        "permission": permission,
    }
