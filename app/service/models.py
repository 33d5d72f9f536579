"""Users hold roles; roles hold permissions. A user may do what any of their roles permits."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from .extensions import db

# The permissions the API checks. Migrations insert them (0001 the first four, 0003 audit:read);
# the `admin` role holds them all.
PERMISSIONS: dict[str, str] = {
    "users:read": "list users",
    "users:create": "create users",
    "roles:create": "create roles",
    "roles:grant": "grant roles to users",
    "audit:read": "read the audit trail",
    # Migration 0003 (users and roles lifecycle, issue 14):
    "users:update": "change a user's display name, disable or enable it",
    "users:delete": "delete users",
    "users:reset-password": "set a temporary password a user must change at the next login",
    "users:introspect": "ask whether any user holds a permission, without that user's token",
    "roles:read": "list and read roles",
    "roles:update": "rename roles and change their permissions",
    "roles:delete": "delete roles",
    "roles:revoke": "revoke roles from users",
    "permissions:read": "list permissions",
    "permissions:register": "register the permissions of another service",
    "service-accounts:manage": "create service accounts and replace their secrets",
}

# Principals: people log in with a password; service accounts get tokens with client credentials.
USER_KIND = "user"
SERVICE_KIND = "service"

USERNAME_MAX = 64
DISPLAY_NAME_MAX = 128
DESCRIPTION_MAX = 255
ROLE_NAME_MAX = 64
PERMISSION_NAME_MAX = 64
THROTTLE_KEY_MAX = 128
AUDIT_ACTION_MAX = 64
AUDIT_NAME_MAX = 128  # actor and target names (a failed login's name is whatever was sent, clipped)
AUDIT_TARGET_ID_MAX = 64
REQUEST_ID_MAX = 128  # service/observe.py's _REQUEST_ID
KID_MAX = 32
JTI_MAX = 32

user_roles = Table(
    "user_roles",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)

role_permissions = Table(
    "role_permissions",
    db.metadata,
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    Column("permission_id", ForeignKey("permissions.id", ondelete="CASCADE"), primary_key=True),
)


def _now() -> datetime:
    return datetime.now(UTC)


def new_token_version() -> str:
    """Random, so a user made after another was deleted never matches the old user's tokens."""
    return secrets.token_hex(16)


def username_key(username: str) -> str:
    """What makes two usernames the same: 'Admin' and 'admin' are one name (names are ASCII)."""
    return username.lower()


class Permission(db.Model):  # type: ignore[name-defined]
    __tablename__ = "permissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(PERMISSION_NAME_MAX), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    # The principal that registered it (POST /api/v1/permissions); NULL for the service's own.
    # No foreign key: users are never deleted from the table (a delete is soft), and SQLite cannot
    # add one to an existing table without rebuilding it.
    owner_id: Mapped[int | None] = mapped_column(Integer)

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "description": self.description, "builtin": self.owner_id is None}


class Role(db.Model):  # type: ignore[name-defined]
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(ROLE_NAME_MAX), unique=True)
    description: Mapped[str] = mapped_column(String(DESCRIPTION_MAX), default="", server_default="")
    permissions: Mapped[list[Permission]] = relationship(secondary=role_permissions, order_by=Permission.name)

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "permissions": [p.name for p in self.permissions],
        }


class User(db.Model):  # type: ignore[name-defined]
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_MAX), unique=True)
    # username_key(username), unique: no 'Admin' next to 'admin'. NULL only for the later of two
    # such names made before this rule (migration 0002 keeps them, they can still log in).
    username_key: Mapped[str | None] = mapped_column(String(USERNAME_MAX), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    # In every token; replaced on password change, disable and revoke, which voids older tokens.
    # Random, not a counter: SQLite may give a deleted last user's id to the next user, and that
    # user must not accept the old one's tokens. ('' is only the migration's placeholder.)
    token_version: Mapped[str] = mapped_column(String(32), default=new_token_version, server_default="")
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Soft delete (docs/contract.md says why): the row stays, disabled, without roles or tokens,
    # its name never reused; the API then answers 404 for it.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    display_name: Mapped[str] = mapped_column(String(DISPLAY_NAME_MAX), default="", server_default="")
    # Set by an admin reset and by `flask create-admin`: login answers 403 password_change_required
    # until POST /api/v1/auth/password-change sets a password only the user knows.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # USER_KIND or SERVICE_KIND (a service account: its client secret's hash is in password_hash).
    kind: Mapped[str] = mapped_column(String(16), default=USER_KIND, server_default=USER_KIND)
    roles: Mapped[list[Role]] = relationship(secondary=user_roles, order_by=Role.name)

    @validates("username")
    def _set_key(self, _field: str, username: str) -> str:
        self.username_key = username_key(username)
        return username

    def revoke_tokens(self) -> None:
        self.token_version = new_token_version()

    def permission_names(self) -> list[str]:
        return sorted({p.name for role in self.roles for p in role.permissions})

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "kind": self.kind,
            "created_at": self.created_at.isoformat(),
            "disabled": self.disabled_at is not None,
            "must_change_password": self.must_change_password,
            "roles": [r.name for r in self.roles],
        }


class LoginThrottle(db.Model):  # type: ignore[name-defined]
    """Failed logins per account ('user:<name>') and per client address ('addr:<ip>'), shared by
    every worker and pod through the database (service/throttle.py). Times are Unix seconds."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(THROTTLE_KEY_MAX), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure: Mapped[float] = mapped_column(Float, index=True)
    locked_until: Mapped[float] = mapped_column(Float)


class AuditEvent(db.Model):  # type: ignore[name-defined]
    """One security-relevant event (service/audit.py). Actor and target are copied, not foreign keys:
    the record outlives the user or role it names."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_target", "target_type", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    action: Mapped[str] = mapped_column(String(AUDIT_ACTION_MAX), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_name: Mapped[str | None] = mapped_column(String(AUDIT_NAME_MAX))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(AUDIT_TARGET_ID_MAX))
    target_name: Mapped[str | None] = mapped_column(String(AUDIT_NAME_MAX))
    client_address: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(REQUEST_ID_MAX), index=True)
    details: Mapped[dict[str, object] | None] = mapped_column(JSON)

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            # SQLite hands back naive datetimes; every one stored is UTC.
            "occurred_at": self.occurred_at.replace(tzinfo=self.occurred_at.tzinfo or UTC).isoformat(),
            "action": self.action,
            "outcome": self.outcome,
            "actor": {"type": self.actor_type, "id": self.actor_id, "name": self.actor_name},
            "target": None
            if self.target_type is None
            else {"type": self.target_type, "id": self.target_id, "name": self.target_name},
            "client_address": self.client_address,
            "request_id": self.request_id,
            "details": self.details or {},
        }

    def summary(self) -> str:
        return (
            f"{self.action} {self.outcome} actor={self.actor_type}:{self.actor_id}:{self.actor_name} "
            f"target={self.target_type}:{self.target_id}:{self.target_name} "
            f"client={self.client_address} request_id={self.request_id}"
        )


class SigningKey(db.Model):  # type: ignore[name-defined]
    """A token signing key pair (service/signing_keys.py). The newest generation whose `activates_at`
    has come signs; a newer one is published before it signs, older ones stay published until the
    last token they signed has expired.

    `generation` is unique: of several workers or replicas creating the first key (or rotating) at
    once, exactly one insert wins and the others read the winner's key.
    """

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(KID_MAX), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, unique=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[str] = mapped_column(Text)  # PEM, SubjectPublicKeyInfo
    # PEM, PKCS#8 encrypted with KEY_ENCRYPTION_KEY: the database alone never gives the private key.
    private_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    # When it starts signing: published from created_at, so verifiers' caches hold it by then.
    activates_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When the next generation takes over signing (its activates_at); None while no newer key exists.
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RevokedToken(db.Model):  # type: ignore[name-defined]
    """Tokens revoked one by one (logout), by their `jti`, kept until they would have expired."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(JTI_MAX), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
