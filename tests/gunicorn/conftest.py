"""A real gunicorn master started with the shipped app/gunicorn.conf.py, on 127.0.0.1 and a free port.

Each server gets its own LOG_DIR and DATA_DIR (a migrated SQLite database holding an admin). Its
processes run in their own session, and teardown kills that process group: nothing outlives a test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.app import fresh_postgres_database
from tests.support.gunicorn import Server, StartServer, migrate_and_add_admin, start_gunicorn, stop


@pytest.fixture(scope="session")
def seeded_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrate_and_add_admin(tmp_path_factory.mktemp("seed-data"))


@pytest.fixture
def start_server(tmp_path: Path, seeded_data_dir: Path) -> Iterator[StartServer]:
    """Start a gunicorn (env overrides as keyword arguments) and wait until every worker serves."""
    servers: list[Server] = []

    def start(wait: bool = True, **env_overrides: str) -> Server:
        server_dir = tmp_path / f"server-{len(servers)}"
        server_dir.mkdir()
        server = start_gunicorn(server_dir, seeded_data_dir, **env_overrides)
        servers.append(server)
        if wait:
            server.wait_until_serving()
        return server

    yield start
    for server in servers:
        stop(server)


@pytest.fixture
def database_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Env for a server, by `indirect` parameter: "sqlite", the session's seeded database, or
    "postgresql", a fresh migrated one. Ask for it before start_server: fixtures tear down in reverse,
    so gunicorn stops before its database is dropped."""
    if request.param == "sqlite":
        yield {}
        return
    with fresh_postgres_database(request.getfixturevalue("postgres_admin_url")) as url:
        migrate_and_add_admin(tmp_path, url)
        yield {"DATABASE_URL": url}
