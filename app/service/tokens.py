"""Revoking one token (logout): its `jti` goes on a denylist until the token would have expired.

The denylist only ever holds tokens that could still be used: each logout deletes the rows whose
tokens have expired since, so it stays as small as the number of live logged-out tokens.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, exists, insert, select
from sqlalchemy.exc import IntegrityError

from . import audit
from .audit import Target
from .extensions import db
from .models import RevokedToken
from .security import TokenSubject

_revoked = RevokedToken.__table__


def revoke(subject: TokenSubject) -> None:
    """Put the token on the denylist, audited in the same commit, and drop entries whose tokens have
    expired."""
    now = datetime.now(UTC)
    db.session.execute(delete(_revoked).where(_revoked.c.expires_at < now))
    db.session.execute(insert(_revoked).values(jti=subject.jti, expires_at=subject.expires_at))
    # The token's id, never the token: a jti alone authenticates nothing.
    audit.record("auth.logout", target=Target("token", subject.jti))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # the same token logged out twice at once: revoked (and audited) once


def is_revoked(jti: str) -> bool:
    with db.engine.connect() as connection:
        return bool(connection.execute(select(exists().where(_revoked.c.jti == jti))).scalar())
