"""/healthz and /readyz: alive, and ready only when the database answers at the migration head."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient
from service.health import migration_heads
from sqlalchemy import create_engine, text

from tests.support.app import running_app, service_env


def test_healthz_answers_200(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_is_200_at_the_migration_head(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "revision": sorted(migration_heads())}


def test_readyz_is_503_before_the_first_upgrade(empty_db: tuple[Path, str]) -> None:
    with running_app(service_env(*empty_db)) as app:
        response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert "no revision" in body["reason"]
    assert "flask db upgrade" in body["reason"]


def test_readyz_is_503_when_the_schema_is_at_another_revision(empty_db: tuple[Path, str]) -> None:
    engine = create_engine(empty_db[1])
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('0ld0ld0ld0ld')"))
    engine.dispose()
    with running_app(service_env(*empty_db)) as app:
        response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert "0ld0ld0ld0ld" in response.get_json()["reason"]


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    unreachable = "postgresql+psycopg://model:model@127.0.0.1:1/nowhere"
    with running_app(service_env(tmp_path, unreachable)) as app:
        client = app.test_client()
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["reason"].startswith("database unreachable")
        # Alive all the same: liveness must not restart a process because its database is down.
        assert client.get("/healthz").status_code == 200


def test_an_unreachable_database_is_a_json_503_with_retry_after(tmp_path: Path) -> None:
    """A database that is down is a passing condition, not a broken service: 503, retry shortly."""
    unreachable = "postgresql+psycopg://model:model@127.0.0.1:1/nowhere"
    with running_app(service_env(tmp_path, unreachable)) as app:
        response = app.test_client().post("/api/v1/auth/login", json={"username": "a", "password": "b"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.get_json() == {
        "error": {"code": "service_unavailable", "message": "the database is unavailable; retry shortly"}
    }


def test_an_unexpected_error_is_a_json_500(tmp_path: Path) -> None:
    with running_app(service_env(tmp_path, f"sqlite:///{tmp_path / 'service.db'}")) as app:

        def broken() -> str:
            raise RuntimeError("a bug")

        app.add_url_rule("/broken", view_func=broken)
        response = app.test_client().get("/broken")
    assert response.status_code == 500
    assert response.get_json() == {
        "error": {"code": "internal_server_error", "message": "internal server error"}
    }
