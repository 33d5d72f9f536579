"""Login throttling per account and per client address, kept in the database.

The database is the one store every worker and every pod shares, so a lock made by one is seen by
all. (Flask-Limiter / `limits` keep their counters in memory, Redis, Memcached or MongoDB, none of
which this service has; they also count requests, where this counts failures and backs off.)

After `free` failures within FORGET_SECONDS a key is locked for 1 s, then 2, 4, ... up to
LOGIN_LOCK_MAX_SECONDS: a backoff, never a permanent lock, so an attacker who locks an account
keeps its owner out for minutes at most. A success clears the account's failures (not the
address's: an attacker's own good logins must not reset the count for its address).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from werkzeug.exceptions import TooManyRequests

from .extensions import db
from .models import THROTTLE_KEY_MAX, LoginThrottle, username_key

# Failures older than this are forgotten (and their rows deleted).
FORGET_SECONDS = 15 * 60
KIND = {"user": "account", "addr": "address"}
log = logging.getLogger(__name__)


def account_key(username: str) -> str:
    return f"user:{username_key(username)}"[:THROTTLE_KEY_MAX]


def address_key(address: str) -> str:
    """IPv6 clients are counted per /64: one host usually holds a whole /64 to rotate through."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return f"addr:{address}"[:THROTTLE_KEY_MAX]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return f"addr:{parsed.ipv4_mapped}"
        return f"addr:{ipaddress.ip_network(f'{parsed}/64', strict=False)}"
    return f"addr:{parsed}"


@dataclass(frozen=True)
class Limits:
    per_account: int
    per_address: int
    max_lock_seconds: int

    @classmethod
    def from_app(cls) -> Limits:
        config = current_app.config
        return cls(
            config["LOGIN_FAILURES_PER_ACCOUNT"],
            config["LOGIN_FAILURES_PER_ADDRESS"],
            config["LOGIN_LOCK_MAX_SECONDS"],
        )

    def lock_seconds(self, failures: int, free: int) -> float:
        """0 below `free` failures, then 1, 2, 4, ... seconds, capped."""
        if failures < free:
            return 0.0
        return float(min(2 ** min(failures - free, 30), self.max_lock_seconds))


class Throttled(TooManyRequests):
    """The 429 of a locked account or address; `lock` names the locked keys and when they open."""

    def __init__(self, description: str, retry_after: int, lock: tuple[tuple[str, float], ...]) -> None:
        super().__init__(description, retry_after=retry_after)
        self.lock = lock


def refuse_if_locked(username: str, address: str) -> None:
    """429 with Retry-After while the account or the address is locked."""
    now = time.time()
    keys = [account_key(username), address_key(address)]
    locked = db.session.execute(
        select(LoginThrottle.key, LoginThrottle.locked_until).where(
            LoginThrottle.key.in_(keys), LoginThrottle.locked_until > now
        )
    ).all()
    if not locked:
        return
    retry_after = max(1, math.ceil(max(until for _, until in locked) - now))
    which = " and ".join(sorted(KIND[key.split(":", 1)[0]] for key, _ in locked))
    log.warning("login refused for %r from %s: %s locked for %ss", username, address, which, retry_after)
    raise Throttled(
        f"too many failed logins for this {which}; retry in {retry_after} s",
        retry_after,
        tuple(sorted((key, until) for key, until in locked)),
    )


def _upsert_failure(key: str, now: float) -> int:
    """Count one failure for `key` atomically (one statement, safe across workers); the new count."""
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    values = insert(LoginThrottle).values(key=key, failures=1, last_failure=now, locked_until=0.0)
    statement = values.on_conflict_do_update(
        index_elements=[LoginThrottle.key],
        set_={
            "failures": case(
                (LoginThrottle.last_failure < now - FORGET_SECONDS, 1), else_=LoginThrottle.failures + 1
            ),
            "last_failure": now,
        },
    ).returning(LoginThrottle.failures)
    return int(db.session.execute(statement).scalar_one())


def record_failure(username: str, address: str) -> None:
    limits = Limits.from_app()
    now = time.time()
    counted = ((account_key(username), limits.per_account), (address_key(address), limits.per_address))
    for key, free in counted:
        failures = _upsert_failure(key, now)
        lock = limits.lock_seconds(failures, free)
        if lock:
            db.session.execute(
                update(LoginThrottle).where(LoginThrottle.key == key).values(locked_until=now + lock)
            )
            log.warning("login lock: %s after %d failures, for %.0f s", key, failures, lock)
    db.session.commit()
    _forget_old_failures(now)


def _forget_old_failures(now: float) -> None:
    """Delete rows nobody failed on for a while, so random usernames cannot grow the table forever.

    Its own transaction, and rows another login holds are skipped (SKIP LOCKED; SQLite has a single
    writer and ignores it): waiting for them while holding the rows just counted could deadlock two
    PostgreSQL transactions. What is skipped now goes with the next failure.
    """
    stale = (
        select(LoginThrottle.key)
        .where(LoginThrottle.last_failure < now - FORGET_SECONDS, LoginThrottle.locked_until < now)
        .with_for_update(skip_locked=True)
    )
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(stale)))
    db.session.commit()


def record_success(username: str) -> None:
    """Clear the account's failures; commits the session, with what the login added (its audit record)."""
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == account_key(username)))
    db.session.commit()


def unlock(key: str) -> int:
    """Forget the failures of one account or address key; how many rows went."""
    result = db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
    db.session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
