"""The audit trail: one structured record per security-relevant event, kept in `audit_events`.

Call `record(action, outcome, target=..., details=...)` where the event happens:

- outcome "success": the record joins the request's database session, so it is committed by the
  same commit as the change it describes, and a change that is rolled back leaves no record
  claiming it happened. Call it BEFORE that commit.
- any other outcome ("failure", "denied", "throttled"): the record is kept aside and written in its
  own transaction when the answer leaves (after whatever the request had not committed is rolled
  back), so a refused or failed request is on record even though its change never happens.

Each record carries the time, the actor (the request's user unless said otherwise, see
`set_actor`), the action, the target, the outcome, the client address and the request id the
service logs (service/observe.py: TRUSTED_PROXIES decides whose X-Forwarded-For counts). Never pass
a secret: `details` keys naming a password, token, secret or credential are refused (ValueError), and
values are the caller's to keep clean (ids and names only).

Retention: records older than AUDIT_RETENTION_DAYS are deleted by `flask audit purge` and, bounded
(PURGE_BATCH rows, once per PURGE_INTERVAL_SECONDS per process), after a request that wrote a record.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from flask import Flask, Response, current_app, g, has_request_context
from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints
from sqlalchemy import Select, and_, delete, or_, select
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db
from .models import (
    AUDIT_ACTION_MAX,
    AUDIT_NAME_MAX,
    AUDIT_TARGET_ID_MAX,
    REQUEST_ID_MAX,
    SERVICE_KIND,
    AuditEvent,
    Role,
    User,
)
from .security import MAX_ID
from .validation import LIST_LIMIT_MAX, Query, parse_query

Outcome = Literal["success", "failure", "denied", "throttled"]
OUTCOMES: tuple[str, ...] = ("success", "failure", "denied", "throttled")
# Rows one bounded purge deletes at most, and how often a process runs one after a write.
PURGE_BATCH = 1000
PURGE_INTERVAL_SECONDS = 60.0
# A details key that names a secret: the record is refused (a programming error, caught by tests).
_SECRET_KEY = re.compile(r"(password|passwd|secret|token|credential|private_key|api_key)s?$", re.IGNORECASE)
_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """Who acted: a user, a service account, an operator at the CLI, or nobody known yet."""

    type: str  # "user", "service_account", "cli", "anonymous"
    id: int | None = None
    name: str | None = None

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls("service_account" if user.kind == SERVICE_KIND else "user", user.id, user.username)


CLI = Actor("cli")
ANONYMOUS = Actor("anonymous")


@dataclass(frozen=True)
class Target:
    """What the action was done to: a user, role, permission, key, ... (type, id, name)."""

    type: str
    id: str | int | None = None
    name: str | None = None

    @classmethod
    def user(cls, user: User) -> Target:
        return cls("user", user.id, user.username)

    @classmethod
    def role(cls, role: Role) -> Target:
        return cls("role", role.id, role.name)

    @classmethod
    def permission(cls, name: str) -> Target:
        return cls("permission", None, name)


def set_actor(actor: Actor) -> None:
    """Name the actor of every later record of this request (e.g. a service account once its
    credentials are checked). Without it the actor is the request's token user, else anonymous."""
    g.audit_actor = actor


def _current_actor() -> Actor:
    if not has_request_context():
        return CLI
    actor = g.get("audit_actor")
    if actor is not None:
        return actor
    user = g.get("user")
    if isinstance(user, User):
        return Actor.of(user)
    return ANONYMOUS


def _clip(value: str | int | None, limit: int) -> str | None:
    return None if value is None else str(value)[:limit]


def _check_details(details: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not details:
        return None
    for key in details:
        if _SECRET_KEY.search(key):
            raise ValueError(f"audit details must not carry secrets: refused key {key!r}")
    return dict(details)


def record(
    action: str,
    outcome: Outcome = "success",
    *,
    actor: Actor | None = None,
    target: Target | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit record (see the module docstring for when it is committed)."""
    if not _ACTION.fullmatch(action) or len(action) > AUDIT_ACTION_MAX:
        raise ValueError(f"audit action {action!r} must be dotted lowercase words, e.g. 'role.grant'")
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome {outcome!r} must be one of {OUTCOMES}")
    who = actor or _current_actor()
    in_request = has_request_context()
    event = AuditEvent(
        occurred_at=datetime.now(UTC),
        action=action,
        outcome=outcome,
        actor_type=who.type,
        actor_id=who.id,
        actor_name=_clip(who.name, AUDIT_NAME_MAX),
        target_type=target.type if target else None,
        target_id=_clip(target.id, AUDIT_TARGET_ID_MAX) if target else None,
        target_name=_clip(target.name, AUDIT_NAME_MAX) if target else None,
        client_address=g.get("client") if in_request else None,
        request_id=g.get("request_id") if in_request else None,
        details=_check_details(details),
    )
    if outcome == "success" or not in_request:
        db.session.add(event)
    else:
        g.setdefault("audit_refusals", []).append(event)
    if in_request:
        g.audit_written = True
    return event


# Per process: keys of repeated refusals already on record, and until when (first_in_window).
_WINDOWS: dict[Hashable, float] = {}
_WINDOWS_MAX = 10_000
_WINDOWS_LOCK = threading.Lock()


def first_in_window(key: Hashable, until: float) -> bool:
    """True the first time `key` is seen in this process before Unix time `until`, then False until
    then: for refusals that repeat while one state lasts (a login lock), one record per worker.
    Bounded: past _WINDOWS_MAX keys, the expired go, and if none have, all (a few records repeat)."""
    now = time.time()
    with _WINDOWS_LOCK:
        if _WINDOWS.get(key, 0.0) > now:
            return False
        if len(_WINDOWS) >= _WINDOWS_MAX:
            for old in [k for k, end in _WINDOWS.items() if end <= now] or list(_WINDOWS):
                del _WINDOWS[old]
        _WINDOWS[key] = until
        return True


def _write_refusals(response: Response) -> Response:
    """after_request: commit the refused/failed events of this request in their own transaction."""
    refusals: list[AuditEvent] = g.pop("audit_refusals", [])
    if refusals:
        try:
            if response.status_code >= 400:
                db.session.rollback()  # the refused request's own change never happens
            db.session.add_all(refusals)
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()
            # Not a 500 on top of the refusal; the log keeps what the table could not.
            for event in refusals:
                log.exception("audit record lost: %s", event.summary())
    if g.pop("audit_written", False):
        _purge_if_due()
    return response


def _purge_if_due() -> None:
    state = current_app.extensions["audit"]
    now = time.monotonic()
    if now - state["last_purge"] < current_app.config["AUDIT_PURGE_INTERVAL_SECONDS"]:
        return
    state["last_purge"] = now
    try:
        purge(limit=PURGE_BATCH)
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("audit purge failed; the next write retries")


def retention_cutoff(now: datetime | None = None) -> datetime:
    days = current_app.config["AUDIT_RETENTION_DAYS"]
    return (now or datetime.now(UTC)) - timedelta(days=days)


def purge(limit: int | None = None, before: datetime | None = None) -> int:
    """Delete records older than the retention (or `before`), at most `limit` of them; how many went.

    Oldest first, in its own transaction; rows another purge holds are skipped (SKIP LOCKED on
    PostgreSQL; SQLite has one writer), so two workers purging at once neither wait nor collide.
    """
    cutoff = before or retention_cutoff()
    stale = select(AuditEvent.id).where(AuditEvent.occurred_at < cutoff).order_by(AuditEvent.id)
    if limit is not None:
        stale = stale.limit(limit)
    result = db.session.execute(
        delete(AuditEvent).where(AuditEvent.id.in_(stale.with_for_update(skip_locked=True)))
    )
    db.session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    app.config.setdefault("AUDIT_PURGE_INTERVAL_SECONDS", PURGE_INTERVAL_SECONDS)
    # The first purge comes one interval after the start, then at most one per interval.
    app.extensions["audit"] = {"last_purge": time.monotonic()}
    app.after_request(_write_refusals)


# Query-string words: no NUL (PostgreSQL cannot compare it) and no spaces, so every filter is a plain token.
_WORD = r"^[A-Za-z0-9_.:@/-]+$"
Word = Annotated[str, StringConstraints(min_length=1, max_length=AUDIT_NAME_MAX, pattern=_WORD)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
ActionName = Annotated[str, StringConstraints(max_length=AUDIT_ACTION_MAX, pattern=f"^{_ACTION.pattern}$")]
TargetId = Annotated[str, StringConstraints(min_length=1, max_length=AUDIT_TARGET_ID_MAX, pattern=_WORD)]
RequestId = Annotated[str, StringConstraints(max_length=REQUEST_ID_MAX, pattern=r"^[A-Za-z0-9._:-]+$")]


def _utc(moment: datetime) -> datetime:
    """An ISO 8601 time in UTC (no offset means UTC); one that has no UTC equivalent is refused."""
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range in UTC") from None


_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso_text(value: object) -> object:
    """Only an ISO 8601 date and time (pydantic alone would also take '0.5' as a Unix time)."""
    if not isinstance(value, str) or not _ISO_TIME.match(value):
        raise ValueError("expected an ISO 8601 date and time, e.g. 2026-11-30T04:00:00Z")
    return value


UtcTime = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_utc)]


class AuditQuery(Query):
    """GET /api/v1/audit-events: every filter optional and ANDed; newest first, `before_id` pages on."""

    limit: int = Field(100, ge=1, le=LIST_LIMIT_MAX, description="how many at most")
    before_id: Id | None = Field(None, description="only older records: the previous page's next_before_id")
    action: ActionName | None = Field(None, description="e.g. auth.login, role.grant")
    outcome: Outcome | None = None
    actor_type: Word | None = Field(None, description="user, service_account, cli or anonymous")
    actor_id: Id | None = None
    user_id: Id | None = Field(None, description="the user as actor or as target")
    target_type: Word | None = Field(None, description="e.g. user, role, permission")
    target_id: TargetId | None = None
    request_id: RequestId | None = Field(None, description="the X-Request-ID of the request")
    since: UtcTime | None = Field(None, description="ISO 8601, inclusive; no offset means UTC")
    until: UtcTime | None = Field(None, description="ISO 8601, exclusive; no offset means UTC")

    def statement(self) -> Select[tuple[AuditEvent]]:
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(self.limit)
        conditions = []
        if self.before_id is not None:
            conditions.append(AuditEvent.id < self.before_id)
        for column, value in (
            (AuditEvent.action, self.action),
            (AuditEvent.outcome, self.outcome),
            (AuditEvent.actor_type, self.actor_type),
            (AuditEvent.actor_id, self.actor_id),
            (AuditEvent.target_type, self.target_type),
            (AuditEvent.target_id, self.target_id),
            (AuditEvent.request_id, self.request_id),
        ):
            if value is not None:
                conditions.append(column == value)
        if self.user_id is not None:
            as_target = and_(AuditEvent.target_type == "user", AuditEvent.target_id == str(self.user_id))
            conditions.append(or_(AuditEvent.actor_id == self.user_id, as_target))
        if self.since is not None:
            conditions.append(AuditEvent.occurred_at >= self.since)
        if self.until is not None:
            conditions.append(AuditEvent.occurred_at < self.until)
        return query.where(*conditions)


def list_events() -> dict[str, Any]:
    """The events the request's query string asks for; 400 naming every bad parameter."""
    query = parse_query(AuditQuery)
    events = db.session.scalars(query.statement()).all()
    full_page = len(events) == query.limit
    return {
        "events": [event.to_dict() for event in events],
        "limit": query.limit,
        "next_before_id": events[-1].id if full_page else None,
    }
