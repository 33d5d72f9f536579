"""`flask create-admin USERNAME`: the first administrator, holding every permission through role `admin`."""

from __future__ import annotations

import os

import click
from flask import Flask
from sqlalchemy import select

from .extensions import db
from .models import PERMISSIONS, Permission, Role, User
from .security import hash_password

ADMIN_ROLE = "admin"


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
    def create_admin(username: str) -> None:
        """Create USERNAME with role admin (password from ADMIN_PASSWORD, else a prompt)."""
        # Imported here: the API module's limits are the rules a password must meet.
        from .api import PASSWORD_MAX, PASSWORD_MIN, USERNAME_MAX, USERNAME_MIN
        from .validation import NAME_PATTERN, NAME_RULE

        if not USERNAME_MIN <= len(username) <= USERNAME_MAX or not NAME_PATTERN.match(username):
            raise click.BadParameter(
                f"must be {USERNAME_MIN} to {USERNAME_MAX} characters of {NAME_RULE}", param_hint="USERNAME"
            )
        password = os.environ.get("ADMIN_PASSWORD") or click.prompt(
            "Password", hide_input=True, confirmation_prompt=True
        )
        if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
            raise click.ClickException(f"the password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters")
        if db.session.scalar(select(User.id).where(User.username == username)) is not None:
            raise click.ClickException(f"user {username!r} already exists")
        role = ensure_admin_role()
        db.session.add(User(username=username, password_hash=hash_password(password), roles=[role]))
        db.session.commit()
        click.echo(f"created admin {username!r} with permissions: {', '.join(sorted(PERMISSIONS))}")
