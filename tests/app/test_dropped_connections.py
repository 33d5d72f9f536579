"""PostgreSQL connections the server drops (restart, failover, an idle timeout) cost at most one
request: idle pooled connections are pinged before use, the authorize read retries once, and any
other request that meets a dropped connection gets a 503 while the pool replaces its connections.
(Issue 15: this replaces pool_pre_ping, which pinged before every request.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from service import extensions
from service.extensions import db
from sqlalchemy import create_engine, text


@pytest.fixture(scope="module")
def backend() -> str:
    return "postgresql"  # a SQLite file cannot drop a connection


@pytest.fixture
def drop_connections(app: Flask, postgres_admin_url: str) -> Iterator[Any]:
    """Make the server end every session of the app's database, as a restart would."""
    with app.app_context():
        database = db.engine.url.database
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")

    def drop() -> int:
        with admin.connect() as connection:
            dropped = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :database AND pid <> pg_backend_pid()"
                ),
                {"database": database},
            ).scalar_one()
        assert dropped >= 1, "the app held no connection to drop"
        return int(dropped)

    yield drop
    admin.dispose()


def user_url(client: FlaskClient, headers: dict[str, str]) -> str:
    me = client.get("/api/v1/users?limit=1", headers=headers)
    assert me.status_code == 200, me.get_json()
    return f"/api/v1/users/{me.get_json()['users'][0]['id']}"


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(
    client: FlaskClient, admin_headers: dict[str, str], drop_connections: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = user_url(client, admin_headers)
    drop_connections()
    monkeypatch.setattr(extensions, "IDLE_PING_SECONDS", 0.0)  # every pooled connection counts as idle
    # An ORM read, which has no retry of its own: only the ping before checkout saves it.
    response = client.get(url, headers=admin_headers)
    assert response.status_code == 200, response.get_json()


def test_authorize_retries_once_on_a_recently_used_connection_the_server_dropped(
    client: FlaskClient, admin_headers: dict[str, str], drop_connections: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(extensions, "IDLE_PING_SECONDS", 3600.0)  # trusted: no ping before use
    body = {"permission": "users:read"}
    assert client.post("/api/v1/authorize", json=body, headers=admin_headers).status_code == 200
    drop_connections()
    response = client.post("/api/v1/authorize", json=body, headers=admin_headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["allowed"] is True


def test_another_request_on_a_dropped_trusted_connection_gets_one_503_then_the_pool_recovers(
    client: FlaskClient, admin_headers: dict[str, str], drop_connections: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = user_url(client, admin_headers)
    monkeypatch.setattr(extensions, "IDLE_PING_SECONDS", 3600.0)
    drop_connections()
    failed = client.get(url, headers=admin_headers)
    assert failed.status_code == 503, failed.get_json()
    assert failed.headers["Retry-After"] == "1"
    assert failed.get_json()["error"]["code"] == "service_unavailable"
    assert client.get(url, headers=admin_headers).status_code == 200
