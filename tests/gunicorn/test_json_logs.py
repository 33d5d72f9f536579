"""Every log line of a real gunicorn (access.log, app.log, stdout) is one JSON object with the fields an
operator searches by, and one request can be followed through them by its request id."""

from __future__ import annotations

import time

import requests

from tests.support.gunicorn import ACCESS_LOG_FIELDS, ADMIN, LOG_FIELDS, StartServer, json_log_lines


def test_every_line_is_json_and_a_request_can_be_followed_by_its_id(start_server: StartServer) -> None:
    server = start_server(TRUSTED_PROXIES="127.0.0.1")
    proxy = {"X-Request-ID": "edge-7f3a", "X-Forwarded-For": "203.0.113.9"}
    wrong = requests.post(
        f"{server.url}/api/v1/auth/login",
        json={**ADMIN, "password": "not-the-password"},
        headers=proxy,
        timeout=60,
    )
    assert wrong.status_code == 401
    assert wrong.headers["X-Request-ID"] == "edge-7f3a"
    token = requests.post(f"{server.url}/api/v1/auth/login", json=ADMIN, timeout=60).json()["access_token"]
    me = requests.get(
        f"{server.url}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    admin_id = me.json()["user"]["id"]
    me_id = me.headers["X-Request-ID"]

    deadline = time.monotonic() + 10  # access lines are written just after the response
    while me_id not in (server.log_dir / "access.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    access = json_log_lines((server.log_dir / "access.log").read_text())
    app = json_log_lines((server.log_dir / "app.log").read_text())
    stdout = json_log_lines(server.output())
    assert len(stdout) == len(access) + len(app)
    for line in access:
        assert ACCESS_LOG_FIELDS <= line.keys(), line
        assert line["logger"] == "gunicorn.access"
    for line in app:
        assert LOG_FIELDS <= line.keys(), line
    assert token not in server.output()

    # The proxy's request id and client address, in the access line and in the app's own line.
    (failed,) = [line for line in access if line["request_id"] == "edge-7f3a"]
    assert (failed["route"], failed["status"], failed["client"]) == ("/api/v1/auth/login", 401, "203.0.113.9")
    (reason,) = [line for line in app if line.get("request_id") == "edge-7f3a"]
    assert reason["logger"] == "service.api"
    assert "login failed" in str(reason["message"])
    assert reason["client"] == "203.0.113.9"
    # A request the service answered for a known user names that user.
    (me_line,) = [line for line in access if line["request_id"] == me_id]
    assert (me_line["user_id"], me_line["route"], me_line["status"]) == (admin_id, "/api/v1/users/me", 200)
    assert isinstance(me_line["duration_ms"], float)
    assert str(me_line["time"]).endswith("Z")
