"""`flask db upgrade` for real (the CLI, in a subprocess), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from service.extensions import db
from service.health import MIGRATIONS_DIR, migration_heads
from service.models import PERMISSIONS
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine

from tests.support.app import fresh_postgres_database, migrate

APP_DIR = MIGRATIONS_DIR.parent
FLASK = str(Path(sys.executable).parent / "flask")
# Must equal MIGRATION_LOCK_KEY in app/migrations/env.py (checked below).
MIGRATION_LOCK_KEY = 0x2F6B8E51


def flask_cli(args: list[str], data_dir: Path, url: str, **extra_env: str) -> subprocess.Popen[str]:
    """Start `flask <args>` the way the image runs it: cwd app/, FLASK_APP=service."""
    env = {
        **os.environ,
        "FLASK_APP": "service",
        "RUNTIME_ENV": "test",
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": url,
        **extra_env,
    }
    process = subprocess.Popen(
        [FLASK, *args], cwd=APP_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    STARTED.append(process)
    return process


STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def kill_leftover_flask_processes() -> Iterator[None]:
    """A test that fails halfway must not leave a `flask db upgrade` running."""
    yield
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.communicate()


def run_flask(args: list[str], data_dir: Path, url: str, **extra_env: str) -> tuple[int, str]:
    process = flask_cli(args, data_dir, url, **extra_env)
    output, _ = process.communicate(timeout=120)
    return process.returncode, output


def versions(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def test_upgrade_from_empty_creates_the_schema_at_head_and_a_second_upgrade_changes_nothing(
    empty_db: tuple[Path, str], engine: Engine
) -> None:
    code, output = run_flask(["db", "upgrade"], *empty_db)
    assert code == 0, output
    assert "Running upgrade" in output
    assert versions(engine) == sorted(migration_heads())
    assert set(inspect(engine).get_table_names()) >= {"users", "roles", "permissions", "user_roles"}
    with engine.connect() as connection:
        seeded = connection.execute(text("SELECT name FROM permissions ORDER BY name")).scalars().all()
    assert seeded == sorted(PERMISSIONS)

    code, output = run_flask(["db", "upgrade"], *empty_db)
    assert code == 0, output
    assert "Running upgrade" not in output
    assert versions(engine) == sorted(migration_heads())


def test_models_match_the_migration_head(empty_db: tuple[Path, str], engine: Engine) -> None:
    migrate(empty_db)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_downgrade_to_base_then_upgrade_again(empty_db: tuple[Path, str], engine: Engine) -> None:
    migrate(empty_db)
    migrate(empty_db, "downgrade", revision="base")
    assert versions(engine) == []
    assert "users" not in inspect(engine).get_table_names()
    migrate(empty_db)
    assert versions(engine) == sorted(migration_heads())


def test_create_admin_from_the_cli_after_upgrade(empty_db: tuple[Path, str], engine: Engine) -> None:
    migrate(empty_db)
    code, output = run_flask(["create-admin", "root"], *empty_db, ADMIN_PASSWORD="root-password-1")
    assert code == 0, output
    assert "created admin 'root'" in output
    with engine.connect() as connection:
        roles = connection.execute(
            text(
                "SELECT r.name FROM users u JOIN user_roles ur ON ur.user_id = u.id"
                " JOIN roles r ON r.id = ur.role_id WHERE u.username = 'root'"
            )
        ).scalars()
        assert list(roles) == ["admin"]


def test_upgrade_against_an_unreachable_database_fails_clearly(tmp_path: Path) -> None:
    code, output = run_flask(
        ["db", "upgrade"], tmp_path, "postgresql+psycopg://model:model@127.0.0.1:1/nowhere"
    )
    assert code != 0
    assert "OperationalError" in output
    assert "127.0.0.1" in output


@pytest.fixture
def empty_postgres(postgres_admin_url: str, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    with fresh_postgres_database(postgres_admin_url) as url:
        yield tmp_path, url


def test_concurrent_upgrades_on_postgresql_apply_once(empty_postgres: tuple[Path, str]) -> None:
    """Advisory locks are PostgreSQL's; on SQLite the single-writer lock serialises upgraders."""
    empty_db = empty_postgres
    engine = create_engine(empty_db[1])
    try:
        race_two_upgrades(empty_db, engine)
    finally:
        engine.dispose()


def race_two_upgrades(empty_db: tuple[Path, str], engine: Engine) -> None:
    assert (
        f"MIGRATION_LOCK_KEY = {MIGRATION_LOCK_KEY:#X}".replace("0X", "0x")
        in (MIGRATIONS_DIR / "env.py").read_text()
    )
    waiting_sql = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    with engine.connect() as holder:
        # Hold the migration lock so both upgrades start and queue on it, then let them race.
        holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        processes = [flask_cli(["db", "upgrade"], *empty_db) for _ in range(2)]
        deadline = time.monotonic() + 60
        with engine.connect() as watcher:
            while watcher.execute(waiting_sql).scalar_one() < 2:
                assert time.monotonic() < deadline, "the two upgrades never both waited on the lock"
                assert all(p.poll() is None for p in processes), "an upgrade exited before the lock opened"
                time.sleep(0.1)
        holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
        holder.commit()
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert sum("Running upgrade" in output for output in outputs) == 1, outputs
    assert versions(engine) == sorted(migration_heads())
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM permissions")).scalar_one() == len(PERMISSIONS)
