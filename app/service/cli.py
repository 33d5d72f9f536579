"""Operator commands: `flask create-admin USERNAME` (the first administrator, holding every permission
through role `admin`) and the account commands of docs/operations.md: set-password, disable-user,
enable-user, revoke-tokens, unlock-user, unlock-address, login-locks; `flask audit show|purge`; and
`flask keys rotate|list` for the token signing keys. Each change is audited with actor `cli`
(service/audit.py)."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta

import click
from flask import Flask, current_app
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select

from . import audit, signing_keys, throttle
from .audit import Target
from .config import AUDIT_RETENTION_DAYS_MAX
from .extensions import db
from .models import PERMISSIONS, LoginThrottle, Permission, Role, User, username_key
from .security import hash_password
from .validation import NewPassword, NewUsername, describe

ADMIN_ROLE = "admin"
PURGE_CLI_BATCH = 10_000  # rows per transaction: no long lock on a big table
_new_username: TypeAdapter[str] = TypeAdapter(NewUsername)
_new_password: TypeAdapter[str] = TypeAdapter(NewPassword)


def ensure_admin_role() -> Role:
    """Role `admin` with every permission in PERMISSIONS (created or topped up; idempotent)."""
    existing = {p.name: p for p in db.session.scalars(select(Permission))}
    for name, description in PERMISSIONS.items():
        if name not in existing:
            existing[name] = Permission(name=name, description=description)
            db.session.add(existing[name])
    role = db.session.scalar(select(Role).where(Role.name == ADMIN_ROLE))
    if role is None:
        role = Role(name=ADMIN_ROLE)
        db.session.add(role)
    for permission in existing.values():
        if permission not in role.permissions:
            role.permissions.append(permission)
    return role


def register_cli(app: Flask) -> None:
    @app.cli.command("create-admin")
    @click.argument("username")
    @click.option(
        "--keep-password",
        is_flag=True,
        help="Do not make the admin change this password at the first login (for automation that "
        "keeps the password in a secret store; a password typed or passed around must be changed).",
    )
    def create_admin(username: str, keep_password: bool) -> None:
        """Create USERNAME with role admin (password from ADMIN_PASSWORD, else a prompt).

        The first login answers 403 password_change_required until the admin replaces this password
        (POST /api/v1/auth/password-change), unless --keep-password.
        """
        # The same rules as POST /api/v1/users, checked one at a time: a bad name fails before the prompt.
        try:
            _new_username.validate_python(username)
        except ValidationError as error:
            raise click.BadParameter(describe(error), param_hint="USERNAME") from None
        password = os.environ.get("ADMIN_PASSWORD") or click.prompt(
            "Password", hide_input=True, confirmation_prompt=True
        )
        try:
            _new_password.validate_python(password)
        except ValidationError as error:
            raise click.ClickException(f"the password is not allowed: {describe(error)}") from None
        if db.session.scalar(select(User.id).where(User.username_key == username_key(username))):
            raise click.ClickException(f"user {username!r} already exists (whatever the case)")
        role = ensure_admin_role()
        user = User(username=username, password_hash=hash_password(password), roles=[role])
        user.must_change_password = not keep_password
        db.session.add(user)
        db.session.flush()  # the user's id, for the audit record committed with it
        audit.record("user.create", target=Target.user(user), details={"roles": [ADMIN_ROLE]})
        db.session.commit()
        click.echo(f"created admin {username!r} with permissions: {', '.join(sorted(PERMISSIONS))}")
        if not keep_password:
            click.echo("this password must be changed at the first login (POST /api/v1/auth/password-change)")

    def find_user(username: str) -> User:
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.ClickException(f"no user {username!r}")
        return user

    @app.cli.command("set-password")
    @click.argument("username")
    def set_password(username: str) -> None:
        """Set USERNAME's password (from NEW_PASSWORD, else a prompt); revokes its tokens and unlocks it."""
        user = find_user(username)
        password = os.environ.get("NEW_PASSWORD") or click.prompt(
            "New password", hide_input=True, confirmation_prompt=True
        )
        try:
            _new_password.validate_python(password)
        except ValidationError as error:
            raise click.ClickException(f"the password is not allowed: {describe(error)}") from None
        user.password_hash = hash_password(password)
        user.revoke_tokens()
        audit.record("user.password.set", target=Target.user(user), details={"tokens_revoked": True})
        db.session.commit()
        throttle.unlock(throttle.account_key(username))
        click.echo(f"password of {username!r} set; its older tokens no longer work")

    @app.cli.command("revoke-tokens")
    @click.argument("username")
    def revoke_tokens(username: str) -> None:
        """Make every token issued to USERNAME so far invalid (it can log in again)."""
        user = find_user(username)
        user.revoke_tokens()
        audit.record("user.tokens.revoke", target=Target.user(user))
        db.session.commit()
        click.echo(f"every token of {username!r} issued until now is revoked")

    @app.cli.command("disable-user")
    @click.argument("username")
    def disable_user(username: str) -> None:
        """Disable USERNAME: its tokens stop working and it cannot log in until enable-user."""
        user = find_user(username)
        user.disabled_at = datetime.now(UTC)
        user.revoke_tokens()
        audit.record("user.disable", target=Target.user(user), details={"tokens_revoked": True})
        db.session.commit()
        click.echo(f"{username!r} is disabled and its tokens are revoked")

    @app.cli.command("enable-user")
    @click.argument("username")
    def enable_user(username: str) -> None:
        """Let a disabled USERNAME log in again (its old tokens stay revoked)."""
        user = find_user(username)
        user.disabled_at = None
        audit.record("user.enable", target=Target.user(user))
        db.session.commit()
        click.echo(f"{username!r} is enabled")

    @app.cli.command("unlock-user")
    @click.argument("username")
    def unlock_user(username: str) -> None:
        """Forget the failed logins of account USERNAME (ends its 429s now)."""
        key = throttle.account_key(username)
        audit.record("login.unlock", target=Target("login_throttle", None, key))  # committed by unlock()
        removed = throttle.unlock(key)
        click.echo(f"account {username!r}: {'unlocked' if removed else 'had no failed logins'}")

    @app.cli.command("unlock-address")
    @click.argument("address")
    def unlock_address(address: str) -> None:
        """Forget the failed logins from client ADDRESS (IPv6: its /64)."""
        key = throttle.address_key(address)
        audit.record("login.unlock", target=Target("login_throttle", None, key))  # committed by unlock()
        removed = throttle.unlock(key)
        click.echo(f"address {address}: {'unlocked' if removed else 'had no failed logins'}")

    @app.cli.command("login-locks")
    def login_locks() -> None:
        """List the accounts and addresses with recent failed logins, and how long each stays locked."""
        now = time.time()
        rows = db.session.scalars(select(LoginThrottle).order_by(LoginThrottle.key)).all()
        for row in rows:
            left = max(0, round(row.locked_until - now))
            state = f"locked {left} s" if left else "not locked"
            click.echo(f"{row.key}\tfailures={row.failures}\t{state}")
        if not rows:
            click.echo("no failed logins recorded")

    @app.cli.group("audit")
    def audit_group() -> None:
        """The audit trail (docs/operations.md, "Read and retain the audit trail")."""

    @audit_group.command("show")
    @click.argument("filters", nargs=-1, metavar="[NAME=VALUE]...")
    def audit_show(filters: tuple[str, ...]) -> None:
        """Print audit records as JSON lines, newest first; NAME=VALUE filters are GET /api/v1/audit-events'
        query parameters (e.g. outcome=throttled since=2026-11-30T00:00:00Z limit=50)."""
        pairs = dict(item.partition("=")[::2] for item in filters)
        if any("=" not in item for item in filters):
            raise click.BadParameter(
                "each filter is NAME=VALUE, e.g. action=auth.login", param_hint="FILTERS"
            )
        try:
            query = audit.AuditQuery.model_validate(pairs)
        except ValidationError as error:
            raise click.BadParameter(describe(error), param_hint="FILTERS") from None
        for event in db.session.scalars(query.statement()):
            click.echo(json.dumps(event.to_dict(), sort_keys=True))

    @audit_group.command("purge")
    @click.option(
        "--older-than-days",
        type=click.IntRange(min=1, max=AUDIT_RETENTION_DAYS_MAX),
        default=None,
        help="Delete records older than this many days (default: AUDIT_RETENTION_DAYS).",
    )
    def audit_purge(older_than_days: int | None) -> None:
        """Delete every audit record older than the retention, in batches; the purge itself is audited."""
        days = older_than_days or current_app.config["AUDIT_RETENTION_DAYS"]
        cutoff = datetime.now(UTC) - timedelta(days=days)
        deleted = 0
        while batch := audit.purge(limit=PURGE_CLI_BATCH, before=cutoff):
            deleted += batch
        audit.record("audit.purge", details={"deleted": deleted, "before": cutoff.isoformat(), "days": days})
        db.session.commit()
        click.echo(f"deleted {deleted} audit records from before {cutoff.isoformat()} ({days} days)")

    @app.cli.group("keys")
    def keys() -> None:
        """The token signing keys: rotate, list."""

    @keys.command("rotate")
    @click.option(
        "--delay",
        type=click.IntRange(0, 7 * 24 * 3600),
        default=signing_keys.ROTATION_DELAY_SECONDS,
        show_default=True,
        help="Seconds the new key is published before it signs (the key set's cache lifetime); "
        "0 signs at once, and verifiers holding a cached key set may refuse its tokens for a while.",
    )
    def rotate_key(delay: int) -> None:
        """Add a new signing key; tokens signed by the old one stay valid until they expire."""
        try:
            kid, activates_at = signing_keys.rotate(current_app.config["KEY_ENCRYPTION_KEY"], delay)
        except signing_keys.RotationRace as error:
            audit.record("signing_key.rotate", "failure", details={"reason": "concurrent rotation"})
            db.session.commit()
            raise click.ClickException(str(error)) from None
        start = activates_at.isoformat(timespec="seconds")
        details = {"activates_at": start, "delay_seconds": delay}
        audit.record("signing_key.rotate", target=Target("signing_key", kid), details=details)
        db.session.commit()
        ttl = current_app.config["TOKEN_TTL_SECONDS"]
        click.echo(
            f"new signing key {kid} is published now and signs from {start}; the previous key signs "
            f"until then and stays published {ttl} s longer (TOKEN_TTL_SECONDS), until the last token "
            "it signed has expired"
        )

    @keys.command("list")
    def list_keys() -> None:
        """The signing keys, newest first: kid, generation, created, and until when each is published."""
        infos = signing_keys.key_infos(current_app.config["TOKEN_TTL_SECONDS"])
        now = datetime.now(UTC)
        signing = next((info.kid for info in infos if info.activates_at <= now), None)
        for info in infos:
            if info.activates_at > now:
                state = f"next: published, signs from {info.activates_at.isoformat(timespec='seconds')}"
            elif info.kid == signing:
                state = "current (signs)"
            elif info.published_until is not None and info.published_until > now:
                state = f"retired, published until {info.published_until.isoformat(timespec='seconds')}"
            else:
                state = "retired, no longer published"
            created = info.created_at.isoformat(timespec="seconds")
            click.echo(f"{info.kid}\tgeneration={info.generation}\tcreated={created}\t{state}")
        if not infos:
            click.echo("no signing key yet: the first login or /.well-known/jwks.json request makes one")
