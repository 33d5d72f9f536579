"""Issue 12, row 3, through the real gunicorn with several workers: a lock made by failures that one
worker saw holds in every worker (the state is in the database), and an operator lifts it at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.support.app import fresh_postgres_database
from tests.support.gunicorn import ADMIN, APP_DIR, StartServer, json_log_lines, migrate_and_add_admin

PASSWORD = "target-password-1"


@pytest.fixture(params=["sqlite", "postgresql"])
def own_database_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A database of this test's own (the session's seeded one must not keep a lock)."""
    if request.param == "sqlite":
        yield {"DATA_DIR": str(migrate_and_add_admin(tmp_path / "own-data"))}
        return
    with fresh_postgres_database(request.getfixturevalue("postgres_admin_url")) as url:
        migrate_and_add_admin(tmp_path, url)
        yield {"DATABASE_URL": url, "DATA_DIR": str(tmp_path)}


def login(url: str, password: str) -> requests.Response:
    # A new connection each time, so the kernel hands the requests to different workers.
    return requests.post(
        f"{url}/api/v1/auth/login", json={"username": "target", "password": password}, timeout=60
    )


# own_database_env first: fixtures tear down in reverse, so gunicorn stops before its database goes.
def test_a_lock_holds_in_every_worker_and_an_operator_lifts_it(
    own_database_env: dict[str, str], start_server: StartServer
) -> None:
    server = start_server(GUNICORN_WORKERS="3", **own_database_env)
    token = requests.post(f"{server.url}/api/v1/auth/login", json=ADMIN, timeout=60).json()["access_token"]
    created = requests.post(
        f"{server.url}/api/v1/users",
        json={"username": "target", "password": PASSWORD},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert created.status_code == 201, created.text

    assert [login(server.url, "wrong-password").status_code for _ in range(5)] == [401] * 5
    # Eight at a time: one after another, the worker that just answered (its log line is only queued
    # now) is often the first back at accept, and every 429 could come from that one worker.
    with ThreadPoolExecutor(max_workers=8) as pool:
        refused = list(pool.map(lambda _: login(server.url, PASSWORD), range(30)))
    assert {response.status_code for response in refused} == {429}
    assert all(1 <= int(response.headers["Retry-After"]) <= 300 for response in refused)

    deadline = time.monotonic() + 10  # access lines are written just after the response
    while True:
        lines = json_log_lines((server.log_dir / "access.log").read_text())
        logins_429 = [
            line for line in lines if line["route"] == "/api/v1/auth/login" and line["status"] == 429
        ]
        pids_429 = {line["pid"] for line in logins_429}
        if len(logins_429) >= 30 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(pids_429) >= 2, f"all 429s came from one worker: {pids_429}"
    assert "login lock: user:target after 5 failures" in (server.log_dir / "app.log").read_text()

    unlock = subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "unlock-user", "target"],
        cwd=APP_DIR,
        env={**os.environ, **server.env, "FLASK_APP": "service"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert unlock.returncode == 0, unlock.stderr
    assert "account 'target': unlocked" in unlock.stdout
    assert login(server.url, PASSWORD).status_code == 200
