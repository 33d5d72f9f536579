"""The user, role and permission service. `create_app()` builds the Flask app; gunicorn serves
`service:create_app()`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from flask_cors import CORS

from . import audit
from .api import api
from .cli import register_cli
from .config import ConfigError, load_config
from .errors import register_error_handlers
from .extensions import db, migrate, ping_idle_connections
from .health import MIGRATIONS_DIR, health
from .observe import init_app as init_observability
from .openapi import contract
from .permissions import permissions
from .roles import roles
from .security import HashSlots
from .service_accounts import service_accounts
from .urls import IdConverter
from .users import users
from .wellknown import wellknown

__all__ = ["ConfigError", "create_app"]


class NoCookieSessions(SessionInterface):
    """The API authenticates each request by its bearer token and keeps no cookie session. Flask's
    default interface would still parse cookies and build a signer on every request (~3% of an
    authorize request's CPU, issue 15); with this one Flask hands views a null session, which refuses
    writes, and never sets a cookie."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        return None

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        return None


def create_app(environ: Mapping[str, str] | None = None, **overrides: Any) -> Flask:
    """Build the app from `environ` (default: os.environ); `overrides` set Flask config keys last."""
    config = load_config(os.environ if environ is None else environ)
    app = Flask(__name__)
    app.config.from_object(config)
    app.config.update(overrides)
    app.session_interface = NoCookieSessions()

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        # SQLite creates the file, but not the directory it lives in.
        config.DATA_DIR.mkdir(parents=True, exist_ok=True)

    # Per process: every gunicorn worker (and thread) shares its worker's slots.
    app.extensions["password_hash_slots"] = HashSlots(
        app.config["PASSWORD_HASH_CONCURRENCY"], app.config["PASSWORD_HASH_QUEUE"]
    )
    app.url_map.converters["id"] = IdConverter

    db.init_app(app)
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:"):
        with app.app_context():
            ping_idle_connections(db.engine)  # a SQLite file cannot drop a connection
    # render_as_batch: SQLite can only ALTER a table by copying it; batch mode writes that for us.
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    if app.config["CORS_ORIGINS"]:
        CORS(app, origins=app.config["CORS_ORIGINS"])

    init_observability(app)  # first: its hooks see every request, whatever the others do
    audit.init_app(app)  # after it: records read its request id and client address
    app.register_blueprint(health)
    app.register_blueprint(api)
    app.register_blueprint(contract)
    app.register_blueprint(users)
    app.register_blueprint(roles)
    app.register_blueprint(permissions)
    app.register_blueprint(service_accounts)
    app.register_blueprint(wellknown)
    register_error_handlers(app)
    register_cli(app)
    return app
