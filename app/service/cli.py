"""`flask create-admin USERNAME`: the first administrator, holding every permission through role `admin`."""

from __future__ import annotations

import os

import click
from flask import Flask
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select

from .extensions import db
from .models import PERMISSIONS, Permission, Role, User
from .security import hash_password
from .validation import NewPassword, NewUsername, describe

ADMIN_ROLE = "admin"
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
    def create_admin(username: str) -> None:
        """Create USERNAME with role admin (password from ADMIN_PASSWORD, else a prompt)."""
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
        if db.session.scalar(select(User.id).where(User.username == username)) is not None:
            raise click.ClickException(f"user {username!r} already exists")
        role = ensure_admin_role()
        db.session.add(User(username=username, password_hash=hash_password(password), roles=[role]))
        db.session.commit()
        click.echo(f"created admin {username!r} with permissions: {', '.join(sorted(PERMISSIONS))}")
