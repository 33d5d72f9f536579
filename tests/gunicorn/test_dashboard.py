"""Every metric docs/grafana-dashboard.json queries exists on a live service's metrics port: a renamed
or dropped metric breaks this test, not the operators' dashboard."""

from __future__ import annotations

import json
import re
from pathlib import Path

import requests

from tests.support.gunicorn import ADMIN, REPO_ROOT, StartServer
from tests.support.metrics import scrape

DASHBOARD = REPO_ROOT / "docs" / "grafana-dashboard.json"
# A metric name in PromQL: an identifier not followed by "(" (a function) nor inside by/le lists.
METRIC = re.compile(r"\b((?:http|service)_[a-z0-9_]+)\b")


def queried_metrics(path: Path) -> set[str]:
    dashboard = json.loads(path.read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    queries += [
        variable["definition"] for variable in dashboard["templating"]["list"] if "definition" in variable
    ]
    return {name for query in queries for name in METRIC.findall(query)}


def test_every_metric_the_dashboard_queries_is_served(start_server: StartServer) -> None:
    wanted = queried_metrics(DASHBOARD)
    # Rate, errors, latency, logins by outcome (the minimum), and what else the panels show.
    assert {
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "service_logins_total",
        "service_authorize_decisions_total",
        "http_requests_in_progress",
        "service_password_hashes_in_progress",
        "service_database_errors_total",
        "service_build_info",
    } <= wanted

    server = start_server()
    assert requests.post(f"{server.url}/api/v1/auth/login", json=ADMIN, timeout=60).status_code == 200
    served = {name for name, _labels in scrape(server.metrics_url)}
    assert wanted <= served, f"queried by the dashboard but not served: {sorted(wanted - served)}"
