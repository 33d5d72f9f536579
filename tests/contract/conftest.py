"""The API contract: the OpenAPI document as the code builds it, and the real service it describes.

`contract_server` is a real gunicorn (the shipped app/gunicorn.conf.py) on 127.0.0.1 over a fresh,
migrated PostgreSQL database holding an admin; it lives for the test module and is killed after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from service import create_app
from service.openapi.build import service_document

from tests.support.app import fresh_postgres_database
from tests.support.gunicorn import ADMIN, Server, migrate_and_add_admin, start_gunicorn, stop


@pytest.fixture(scope="session")
def built_document() -> dict[str, Any]:
    """The document as `make openapi` would write it now."""
    return service_document()


@pytest.fixture
def contract_app(tmp_path: Path) -> Flask:
    return create_app({"RUNTIME_ENV": "test", "DATA_DIR": str(tmp_path)})


@pytest.fixture(scope="module")
def contract_server(postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp_dir = tmp_path_factory.mktemp("contract-server")
    with fresh_postgres_database(postgres_admin_url) as url:
        migrate_and_add_admin(tmp_dir, url)
        server = start_gunicorn(
            tmp_dir,
            tmp_dir,
            DATABASE_URL=url,
            # Schemathesis sends hundreds of wrong logins (and wrong current passwords as the admin)
            # from 127.0.0.1: without these the locks (a documented 429) would also refuse the
            # admin's own logins that keep the run authenticated.
            LOGIN_FAILURES_PER_ADDRESS="1000000",
            LOGIN_FAILURES_PER_ACCOUNT="1000000",
        )
        try:
            server.wait_until_serving()
            yield server
        finally:
            stop(server)


def login(server: Server, username: str = ADMIN["username"], password: str = ADMIN["password"]) -> str:
    """A bearer token from the real login endpoint."""
    response = requests.post(
        f"{server.url}/api/v1/auth/login", json={"username": username, "password": password}, timeout=30
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])
