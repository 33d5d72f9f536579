"""The authorize check as one SQL statement: the hot path of the service (docs/benchmarks.md).

Loading the User object and then its roles and their permissions (the ORM's lazy loads) cost three
queries and most of the CPU of an authorize request. This reads only what the answer needs, in one
round trip, through Core (no ORM object graph, no session): the user's id, name, token version and
disabled time, whether any of their roles holds the permission and whether the token was logged
out. Nothing about the user is cached, so a revoked or disabled user is refused on the very next
request (only the public key that verifies tokens is kept per process, service/signing_keys.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, and_, bindparam, exists, select
from sqlalchemy.exc import DBAPIError

from .extensions import db
from .models import Permission, RevokedToken, User, role_permissions, user_roles

_users = User.__table__
_permissions = Permission.__table__
_revoked = RevokedToken.__table__

# Built once: SQLAlchemy's compiled cache then serves every request from the same compiled form.
_AUTHORIZE = select(
    _users.c.id,
    _users.c.username,
    _users.c.token_version,
    _users.c.disabled_at,
    exists()
    .where(
        and_(
            user_roles.c.user_id == _users.c.id,
            role_permissions.c.role_id == user_roles.c.role_id,
            _permissions.c.id == role_permissions.c.permission_id,
            _permissions.c.name == bindparam("permission"),
        )
    )
    .label("allowed"),
    # Logged out (service/tokens.py): the same round trip answers it.
    exists().where(_revoked.c.jti == bindparam("jti")).label("revoked"),
).where(_users.c.id == bindparam("user_id"))


@dataclass(frozen=True)
class AuthorizeRow:
    id: int
    username: str
    token_version: str
    disabled_at: datetime | None
    allowed: bool
    revoked: bool


def authorize_row(user_id: int, permission: str, jti: str = "") -> AuthorizeRow | None:
    """The user's account state, whether they hold `permission` and whether the token `jti` was
    logged out (no jti: asked without a token, never revoked), or None when no such user."""
    parameters = {"user_id": user_id, "permission": permission, "jti": jti}
    try:
        row = _read_authorize_row(parameters)
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        # The server had dropped a connection the pool trusted (used within the last second, so not
        # pinged: service/extensions.py). SQLAlchemy has discarded it and every older one; a read can
        # safely run again, once.
        row = _read_authorize_row(parameters)
    if row is None:
        return None
    return AuthorizeRow(
        row.id, row.username, row.token_version, row.disabled_at, bool(row.allowed), bool(row.revoked)
    )


def _read_authorize_row(parameters: dict[str, object]) -> Row[tuple[object, ...]] | None:
    # AUTOCOMMIT: one SELECT is atomic on its own; without a transaction around it PostgreSQL is
    # spared the BEGIN and the ROLLBACK the pool would send when the connection is returned.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return connection.execute(_AUTHORIZE, parameters).first()
