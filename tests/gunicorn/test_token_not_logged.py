"""Issue 12, row 11, through the real gunicorn: a token sent in the query string is not read (401)
and is written to no log, neither access.log nor app.log nor stdout; token answers say no-store."""

from __future__ import annotations

import time

import requests

from tests.support.gunicorn import ADMIN, Server, StartServer


def test_a_query_string_token_is_refused_and_redacted_from_every_log(start_server: StartServer) -> None:
    server = start_server()
    login = requests.post(f"{server.url}/api/v1/auth/login", json=ADMIN, timeout=30)
    assert login.headers["Cache-Control"] == "no-store"
    token = login.json()["access_token"]

    for query in (f"access_token={token}", f"t={token}&n=1", f"token={token[:20]}"):
        response = requests.get(f"{server.url}/api/v1/users/me?{query}", timeout=30)
        assert response.status_code == 401
    referred = requests.get(
        f"{server.url}/healthz",
        headers={"Referer": f"https://app.example/cb?access_token={token}"},
        timeout=30,
    )
    assert referred.status_code == 200
    header = requests.get(
        f"{server.url}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert header.status_code == 200

    # Each worker's log writer flushes its own batch just after the response is sent: wait for all six
    # request lines (login, three query-string tries, the referred health check, the header call).
    deadline = time.monotonic() + 10
    while len(request_lines(server)) < 6 and time.monotonic() < deadline:
        time.sleep(0.2)
    access = (server.log_dir / "access.log").read_text()
    logs = {
        "access.log": access,
        "app.log": (server.log_dir / "app.log").read_text(),
        "stdout": server.output(),
    }
    for name, text in logs.items():
        assert token not in text, f"the token is in {name}"
        assert token[:20] not in text, f"part of the token is in {name}"
    assert "GET /api/v1/users/me?access_token=[redacted] HTTP/1.1" in access
    assert "GET /api/v1/users/me?t=[redacted]&n=1 HTTP/1.1" in access
    assert '"https://app.example/cb?access_token=[redacted]"' in access
    assert '"path": "/api/v1/users/me?t=[redacted]&n=1"' in access


def request_lines(server: Server) -> list[str]:
    return [line for line in (server.log_dir / "access.log").read_text().splitlines() if " HTTP/1.1" in line]
