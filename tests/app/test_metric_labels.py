"""Request metrics are labelled by route template, a known method and the status: never by a raw path,
a made-up method or anything else the client chose, so a scan cannot grow the series without bound."""

from __future__ import annotations

from flask import Flask
from prometheus_client import REGISTRY


def requests_counted(route: str, method: str, status: str) -> float:
    labels = {"route": route, "method": method, "status": status}
    return REGISTRY.get_sample_value("http_requests_total", labels) or 0.0


def test_routes_are_counted_by_template_and_unknown_paths_and_methods_collapse(
    app: Flask, admin_headers: dict[str, str]
) -> None:
    client = app.test_client()
    grants = "/api/v1/users/<id:user_id>/roles"
    unmatched = requests_counted("<unmatched>", "GET", "404")
    other = requests_counted("<unmatched>", "other", "405")

    granted = client.post("/api/v1/users/999999/roles", json={"role": "admin"}, headers=admin_headers)
    status = str(granted.status_code)
    before = requests_counted(grants, "POST", status)  # counted already: read after, subtract one
    for n in range(3):
        assert client.get(f"/scanner/probe-{n}.php").status_code == 404
    assert client.open("/healthz", method="BREW").status_code == 405

    assert before >= 1
    assert requests_counted("<unmatched>", "GET", "404") == unmatched + 3
    assert requests_counted("<unmatched>", "other", "405") == other + 1
    exposed = "".join(f"{sample.labels}" for metric in REGISTRY.collect() for sample in metric.samples)
    assert "probe-" not in exposed
    assert "999999" not in exposed
    assert "BREW" not in exposed


def test_login_outcomes_and_authorize_decisions_are_counted(app: Flask, admin: dict[str, str]) -> None:
    def count(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    client = app.test_client()
    ok, failed = count("service_logins_total", outcome="ok"), count("service_logins_total", outcome="failed")
    allowed = count("service_authorize_decisions_total", decision="allowed")
    denied = count("service_authorize_decisions_total", decision="denied")

    token = client.post("/api/v1/auth/login", json=admin).get_json()["access_token"]
    assert (
        client.post("/api/v1/auth/login", json={**admin, "password": "not-the-password"}).status_code == 401
    )
    bearer = {"Authorization": f"Bearer {token}"}
    assert (
        client.post("/api/v1/authorize", json={"permission": "roles:grant"}, headers=bearer).status_code
        == 200
    )
    assert client.post("/api/v1/authorize", json={"permission": "no:such"}, headers=bearer).status_code == 403

    assert count("service_logins_total", outcome="ok") == ok + 1
    assert count("service_logins_total", outcome="failed") == failed + 1
    assert count("service_authorize_decisions_total", decision="allowed") == allowed + 1
    assert count("service_authorize_decisions_total", decision="denied") == denied + 1
    assert count("service_password_hashes_in_progress") == 0
    assert count("http_requests_in_progress") == 0
