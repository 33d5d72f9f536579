"""/metrics on its own port of a real gunicorn with several workers: the sums are right across workers,
a killed worker is counted once, and the port answers while every worker is busy."""

from __future__ import annotations

import os
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.gunicorn import ADMIN, Server, StartServer, json_log_lines
from tests.support.metrics import scrape, value

VERSION = {"route": "/version", "method": "GET", "status": "200"}


def get_version_many(server: Server, count: int) -> None:
    """`count` GET /version, 16 at a time, each on a new connection (the kernel spreads them over workers)."""

    def get(_: int) -> int:
        return requests.get(f"{server.url}/version", timeout=60).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert list(pool.map(get, range(count))) == [200] * count


def access_lines_for(server: Server, route: str, count: int) -> list[dict[str, object]]:
    """The access lines of `route`, once `count` of them are written (just after each response)."""
    deadline = time.monotonic() + 15
    while True:
        lines = [
            line
            for line in json_log_lines((server.log_dir / "access.log").read_text())
            if line["route"] == route
        ]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


def test_counters_add_up_across_workers(start_server: StartServer) -> None:
    # sync workers take one connection at a time, so 16 concurrent clients spread over them; one idle
    # gthread worker can accept every connection on a quiet machine. Counting is the same for both.
    server = start_server(GUNICORN_WORKERS="3", GUNICORN_WORKER_CLASS="sync")
    sent = 0
    while sent < 1500:  # bounded: until the requests reached several workers, at most 5 rounds
        get_version_many(server, 300)
        sent += 300
        if len({line["pid"] for line in access_lines_for(server, "/version", sent)}) >= 2:
            break
    token = requests.post(f"{server.url}/api/v1/auth/login", json=ADMIN, timeout=60).json()["access_token"]
    for _ in range(2):
        wrong = {**ADMIN, "password": "not-the-password"}
        assert requests.post(f"{server.url}/api/v1/auth/login", json=wrong, timeout=60).status_code == 401
    bearer = {"Authorization": f"Bearer {token}"}
    for permission, status in (("roles:grant", 200), ("no:such", 403), ("users:read", 200)):
        answer = requests.post(
            f"{server.url}/api/v1/authorize", json={"permission": permission}, headers=bearer, timeout=60
        )
        assert answer.status_code == status

    pids = {line["pid"] for line in access_lines_for(server, "/version", sent)}
    assert len(pids) >= 2, f"{sent} requests did not reach several workers: {pids}"
    samples = scrape(server.metrics_url)
    assert value(samples, "http_requests_total", **VERSION) == sent
    assert value(samples, "http_request_duration_seconds_count", **VERSION) == sent
    assert value(samples, "http_request_duration_seconds_bucket", **VERSION, le="+Inf") == sent
    assert value(samples, "service_logins_total", outcome="ok") == 1
    assert value(samples, "service_logins_total", outcome="failed") == 2
    assert value(samples, "service_logins_total", outcome="throttled") == 0
    assert value(samples, "service_authorize_decisions_total", decision="allowed") == 2
    assert value(samples, "service_authorize_decisions_total", decision="denied") == 1
    assert value(samples, "http_requests_in_progress") == 0
    assert value(samples, "service_password_hashes_in_progress") == 0
    assert value(samples, "service_build_info", image="unknown", revision="unknown", version="unknown") == 1


def test_a_killed_workers_samples_count_once(start_server: StartServer) -> None:
    server = start_server(GUNICORN_WORKERS="2")
    get_version_many(server, 100)
    access_lines_for(server, "/version", 100)
    before = server.worker_pids()
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while (victim in server.worker_pids() or len(server.worker_pids()) < 2) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert victim not in server.worker_pids(), "the killed worker was not replaced"
    assert value(scrape(server.metrics_url), "http_requests_total", **VERSION) == 100

    get_version_many(server, 100)
    samples = scrape(server.metrics_url)
    assert value(samples, "http_requests_total", **VERSION) == 200
    assert value(samples, "http_request_duration_seconds_count", **VERSION) == 200
    assert value(samples, "http_requests_in_progress") == 0  # no live gauge of the dead worker remains
    files = sorted(path.name for path in (server.log_dir.parent / "metrics").iterdir())
    assert any(name.startswith("gauge_livesum_") for name in files), files
    assert not any(name.startswith("gauge_live") and name.endswith(f"_{victim}.db") for name in files), files


def test_the_metrics_port_answers_while_every_worker_is_busy(start_server: StartServer) -> None:
    # A sync worker (threads=1, else gunicorn runs gthread) takes one connection at a time and reads
    # half a request until the rest comes: two held connections occupy both workers, and every further
    # request waits in the listen backlog.
    server = start_server(
        GUNICORN_WORKERS="2", GUNICORN_WORKER_CLASS="sync", GUNICORN_THREADS="1", GUNICORN_TIMEOUT="60"
    )
    held: list[socket.socket] = []
    try:
        for _ in range(2):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # no blank line: the request never ends
            held.append(sock)
        time.sleep(1)
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(f"{server.url}/healthz", timeout=3)

        started = time.monotonic()
        samples = scrape(server.metrics_url)
        assert time.monotonic() - started < 2
        assert value(samples, "http_requests_total", route="/healthz", method="GET", status="200") >= 1
    finally:
        for sock in held:
            sock.close()
    assert requests.get(f"{server.url}/healthz", timeout=30).status_code == 200
