"""Issue 12, row 11, through the real gunicorn: a token sent in the query string is not read (401)
and is written to no log, neither access.log nor app.log nor stdout; token answers say no-store."""

from __future__ import annotations

import time

import requests

from tests.support.gunicorn import ADMIN, StartServer


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

    deadline = time.monotonic() + 10  # the access line is written just after the response is sent
    while "/healthz" not in (server.log_dir / "access.log").read_text() and time.monotonic() < deadline:
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
