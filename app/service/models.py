"""Users hold roles; roles hold permissions. A user may do what any of their roles permits."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db

# The permissions the API checks. The initial migration inserts them; the `admin` role holds them all.
PERMISSIONS: dict[str, str] = {
    "users:read": "list users",
    "users:create": "create users",
    "roles:create": "create roles",
    "roles:grant": "grant roles to users",
}

USERNAME_MAX = 64
ROLE_NAME_MAX = 64
PERMISSION_NAME_MAX = 64

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


class Permission(db.Model):  # type: ignore[name-defined]
    __tablename__ = "permissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(PERMISSION_NAME_MAX), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")


class Role(db.Model):  # type: ignore[name-defined]
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(ROLE_NAME_MAX), unique=True)
    permissions: Mapped[list[Permission]] = relationship(secondary=role_permissions, order_by=Permission.name)

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "permissions": [p.name for p in self.permissions]}


class User(db.Model):  # type: ignore[name-defined]
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_MAX), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    roles: Mapped[list[Role]] = relationship(secondary=user_roles, order_by=Role.name)

    def permission_names(self) -> list[str]:
        return sorted({p.name for role in self.roles for p in role.permissions})

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "username": self.username,
            "created_at": self.created_at.isoformat(),
            "roles": [r.name for r in self.roles],
        }
