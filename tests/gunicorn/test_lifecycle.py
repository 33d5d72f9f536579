"""SIGTERM drains in-flight requests; a killed worker is replaced by the master."""

from __future__ import annotations

import json
import os
import signal
import socket
import time

import pytest
import requests

from tests.support.gunicorn import ADMIN, Server, StartServer


def send_half_a_login(server: Server) -> tuple[socket.socket, bytes]:
    """Open a login request and send its headers and half its body: the worker is now inside the app,
    reading the body. Returns the socket and the bytes still to send."""
    body = json.dumps(ADMIN).encode()
    head = (
        "POST /api/v1/auth/login HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    half = len(body) // 2
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    sock.sendall(head + body[:half])
    return sock, body[half:]


def read_response(sock: socket.socket) -> tuple[int, dict[str, object]]:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


@pytest.mark.parametrize("worker_class", ["gevent", "gthread", "sync"])
def test_sigterm_finishes_the_in_flight_request_then_exits_0(
    start_server: StartServer, worker_class: str
) -> None:
    """A real endpoint made slow by a slow client: no test-only route is needed to hold a request open."""
    server = start_server(
        GUNICORN_WORKERS="1", GUNICORN_WORKER_CLASS=worker_class, GUNICORN_GRACEFUL_TIMEOUT="30"
    )
    sock, rest = send_half_a_login(server)
    time.sleep(1)  # let the worker accept it and start reading the body
    server.process.send_signal(signal.SIGTERM)
    time.sleep(2)
    assert server.process.poll() is None, "the master must wait for the in-flight request"
    sock.sendall(rest)
    status, body = read_response(sock)
    sock.close()
    assert status == 200, body
    assert "access_token" in body
    assert server.process.wait(timeout=60) == 0
    assert "Handling signal: term" in server.output()


def test_a_killed_worker_is_respawned_and_serving_continues(start_server: StartServer) -> None:
    server = start_server(GUNICORN_WORKERS="2")
    before = server.worker_pids()
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = server.worker_pids()
        if victim not in now and len(now) == 2:
            break
        time.sleep(0.2)
    else:
        pytest.fail(
            f"worker {victim} not replaced; workers now {server.worker_pids()}\n{server.output()[-3000:]}"
        )
    replacement = now - before
    assert len(replacement) == 1
    assert server.process.poll() is None
    statuses = [requests.get(f"{server.url}/healthz", timeout=30).status_code for _ in range(20)]
    assert statuses == [200] * 20
    (new_pid,) = replacement
    assert f"Booting worker with pid: {new_pid}" in (server.log_dir / "app.log").read_text()


def test_sigterm_gives_up_on_a_stuck_request_after_the_graceful_timeout(start_server: StartServer) -> None:
    """A client that never finishes its request cannot hold the shutdown beyond GUNICORN_GRACEFUL_TIMEOUT."""
    server = start_server(GUNICORN_WORKERS="1", GUNICORN_GRACEFUL_TIMEOUT="3")
    sock, _never_sent = send_half_a_login(server)
    time.sleep(1)
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=60)
    elapsed = time.monotonic() - started
    sock.close()
    assert 2.5 <= elapsed < 20, f"master exited after {elapsed:.1f}s with a 3s graceful timeout"
