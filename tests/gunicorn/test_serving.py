"""Several gunicorn workers serve, and all of them log whole JSON lines to stdout and to rotating files."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.support.gunicorn import (
    ACCESS_LOG_FIELDS,
    ADMIN,
    APP_DIR,
    LOG_FIELDS,
    StartServer,
    free_port,
    json_log_lines,
)

REQUESTS = 600
# Every line is one JSON object with these fields (app/gunicorn.conf.py, app/observability.py);
# a line two workers mixed, or one cut at a rotation, does not parse.


def hammer(url: str) -> list[int]:
    """REQUESTS concurrent GETs, each on a new connection (so the kernel spreads them over workers)."""

    def get(n: int) -> int:
        return requests.get(f"{url}/healthz?n={n}", timeout=60).status_code

    with ThreadPoolExecutor(max_workers=24) as pool:
        return list(pool.map(get, range(REQUESTS)))


def read_access_logs(log_dir: Path) -> tuple[list[Path], list[int], set[str]]:
    """(files, request numbers logged, worker pids seen); fails on any line that is not whole."""
    access_files = sorted(log_dir.glob("access.log*"))
    seen: list[int] = []
    pids: set[str] = set()
    for path in access_files:
        for line in json_log_lines(path.read_text()):
            assert ACCESS_LOG_FIELDS <= line.keys(), f"fields missing in {path.name}: {line}"
            assert (line["logger"], line["route"], line["status"]) == ("gunicorn.access", "/healthz", 200)
            assert line["client"] == "127.0.0.1"
            query = str(line["path"]).partition("?n=")[2]
            if query:  # the others are the readiness polls
                seen.append(int(query))
            pids.add(str(line["pid"]))
    return access_files, seen, pids


def test_workers_share_rotating_logs_without_losing_or_mixing_lines(start_server: StartServer) -> None:
    server = start_server(GUNICORN_WORKERS="3", LOG_MAX_BYTES="16384", LOG_BACKUP_COUNT="1000")
    assert hammer(server.url) == [200] * REQUESTS

    # A worker writes the access line just after sending the response: give the last ones a moment.
    deadline = time.monotonic() + 15
    while True:
        access_files, seen, pids = read_access_logs(server.log_dir)
        if len(seen) >= REQUESTS or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(access_files) >= 3, f"expected rotation at 16 KiB, got {access_files}"
    assert sorted(seen) == list(range(REQUESTS)), "access lines lost or duplicated"
    assert len(pids) >= 2, f"expected lines from several workers, got pids {pids}"
    assert {int(p) for p in pids} <= server.worker_pids()

    app_lines = json_log_lines((server.log_dir / "app.log").read_text())
    assert all(LOG_FIELDS <= line.keys() for line in app_lines), app_lines
    assert sum("Booting worker with pid" in str(line["message"]) for line in app_lines) == 3

    # stdout carries the same access lines (what `docker logs` shows).
    stdout_ids = re.findall(r"GET /healthz\?n=(\d+) ", server.output())
    assert sorted(map(int, stdout_ids)) == list(range(REQUESTS))


@pytest.mark.parametrize("database_env", ["sqlite", "postgresql"], indirect=True)
def test_the_api_answers_through_gunicorn(database_env: dict[str, str], start_server: StartServer) -> None:
    """gevent workers with a real database driver: psycopg 3 must cooperate with the patched sockets."""
    server = start_server(GUNICORN_WORKER_CLASS="gevent", **database_env)
    assert requests.get(f"{server.url}/readyz", timeout=30).json()["status"] == "ready"
    token = requests.post(f"{server.url}/api/v1/auth/login", json=ADMIN, timeout=30).json()["access_token"]
    me = requests.get(
        f"{server.url}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert me.json()["user"]["username"] == "admin"
    missing = requests.get(f"{server.url}/nowhere", timeout=30)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wanted = {"logger": "service.api", "message": "login ok for 'admin'"}
    deadline = time.monotonic() + 10  # each worker's writer thread writes the line just after
    while not any(
        wanted.items() <= line.items() for line in json_log_lines((server.log_dir / "app.log").read_text())
    ):
        assert time.monotonic() < deadline, (server.log_dir / "app.log").read_text()
        time.sleep(0.2)


def run_healthcheck(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(APP_DIR / "healthcheck.py")],
        env={"HEALTHCHECK_URL": url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_healthcheck_script_exits_0_while_serving_and_1_when_nothing_listens(
    start_server: StartServer,
) -> None:
    server = start_server()
    assert run_healthcheck(f"{server.url}/healthz").returncode == 0
    refused = run_healthcheck(f"http://127.0.0.1:{free_port()}/healthz")
    assert refused.returncode == 1
    assert "healthcheck:" in refused.stderr


def test_healthcheck_script_uses_only_the_standard_library() -> None:
    source = (APP_DIR / "healthcheck.py").read_text()
    imported = set(re.findall(r"^(?:import|from) (\w+)", source, flags=re.MULTILINE))
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
    assert Path(APP_DIR / "healthcheck.py").is_file()


@pytest.mark.parametrize("database_env", ["sqlite", "postgresql"], indirect=True)
def test_racing_creates_of_one_username_give_one_201_and_the_rest_409(
    database_env: dict[str, str], start_server: StartServer
) -> None:
    """Several workers insert the same name at once: the unique constraint decides, never a 500."""
    server = start_server(GUNICORN_WORKERS="3", **database_env)
    token = requests.post(f"{server.url}/api/v1/auth/login", json=ADMIN, timeout=60).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    username = f"racer-{uuid.uuid4().hex[:8]}"

    def create(_: int) -> int:
        body = {"username": username, "password": "racer-password-1"}
        for _attempt in range(20):  # 503: the worker's password-hash slots are full; retry as told
            response = requests.post(f"{server.url}/api/v1/users", json=body, headers=headers, timeout=120)
            if response.status_code != 503:
                break
            time.sleep(int(response.headers["Retry-After"]))
        return response.status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(create, range(6)))
    assert statuses == [201, 409, 409, 409, 409, 409]
    users = requests.get(f"{server.url}/api/v1/users?limit=500", headers=headers, timeout=60).json()["users"]
    assert [u["username"] for u in users].count(username) == 1


def _maps(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.parametrize("database_env", ["sqlite", "postgresql"], indirect=True)
def test_gthread_workers_fork_from_a_preloaded_master_and_all_serve(
    database_env: dict[str, str], start_server: StartServer
) -> None:
    """Issue 15: under gthread the master builds the app once (preload_app) and each worker gets its
    own database connections: authorize answers 200 from several workers, on SQLite and PostgreSQL."""
    server = start_server(GUNICORN_WORKERS="3", **database_env)
    assert "_pydantic_core" in _maps(server.process.pid), "the master did not load the app"
    token = requests.post(f"{server.url}/api/v1/auth/login", json=ADMIN, timeout=30).json()["access_token"]

    def authorize(_: int) -> tuple[int, str]:
        # A new connection each time, so the kernel spreads the requests over the workers.
        with requests.Session() as session:
            response = session.post(
                f"{server.url}/api/v1/authorize",
                json={"permission": "users:read"},
                headers={"Authorization": f"Bearer {token}", "Connection": "close"},
                timeout=30,
            )
        return response.status_code, response.text

    def answering_workers() -> set[object]:
        return {
            line["pid"]
            for line in json_log_lines(server.output())
            if line.get("route") == "/api/v1/authorize" and line.get("status") == 200
        }

    # One worker may take a whole round while the others are still starting (the kernel hands a new
    # connection to whichever worker accepts first): bounded rounds (at most 5, 60 s) until several
    # have answered.
    deadline = time.monotonic() + 60
    for _ in range(5):
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(authorize, range(120)))
        assert {status for status, _ in answers} == {200}, answers[:3]
        if len(answering_workers()) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert len(answering_workers()) >= 2, f"only workers {answering_workers()} answered"


def test_gevent_workers_do_not_preload(start_server: StartServer) -> None:
    """gevent must patch the standard library before the app's imports: its master never loads the app."""
    server = start_server(GUNICORN_WORKER_CLASS="gevent", GUNICORN_WORKERS="1")
    assert "_pydantic_core" not in _maps(server.process.pid)
    assert requests.get(f"{server.url}/healthz", timeout=30).status_code == 200
