"""Extension objects, created unbound here and bound to the app in create_app()."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event, exc
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


# A pooled PostgreSQL connection idle longer than this is pinged before it is handed out, so one the
# server dropped meanwhile (restart, failover, idle timeout) is replaced instead of failing a request.
# SQLAlchemy's pool_pre_ping pings on every checkout: a second round trip per request, ~6% of an
# authorize request's CPU (issue 15). A connection used this recently was alive a moment ago; if the
# server dropped it since, the request that meets it fails as a disconnect (503), SQLAlchemy then
# replaces every older connection of the pool, and the authorize read retries once (service/queries.py).
IDLE_PING_SECONDS = 1.0
_LAST_USED = "service.last_used"


def ping_idle_connections(engine: Engine) -> None:
    """Install the idle ping on `engine`'s pool, with the dialect's own ping (SELECT 1 done right)."""

    @event.listens_for(engine, "checkin")
    def remember_last_use(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        """Raising DisconnectionError makes the pool discard the connection and check out another
        (SQLAlchemy's documented pessimistic disconnect handling)."""
        last_used = record.info.get(_LAST_USED)
        if last_used is not None and time.monotonic() - last_used < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # whatever the driver raises for a dead socket
            raise exc.DisconnectionError(f"pooled connection failed its ping: {error}") from error


def forget_inherited_connections(app: Flask) -> None:
    """In a process forked from the one that built `app` (gunicorn's preload_app): use none of its
    database connections. dispose(close=False) drops the pool without closing the parent's sockets
    (closing them would end the parent's sessions); this process opens its own on first use."""
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)
