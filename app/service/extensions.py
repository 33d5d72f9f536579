"""Extension objects, created unbound here and bound to the app in create_app()."""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    # Named constraints so migrations can alter/drop them the same way on SQLite and PostgreSQL.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
migrate = Migrate()


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """SQLite leaves foreign keys (and so ON DELETE CASCADE) off unless each connection asks.

    WAL lets readers in other gunicorn workers proceed while one worker writes.
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


def forget_inherited_connections(app: Flask) -> None:
    """In a process forked from the one that built `app` (gunicorn's preload_app): use none of its
    database connections. dispose(close=False) drops the pool without closing the parent's sockets
    (closing them would end the parent's sessions); this process opens its own on first use."""
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)
