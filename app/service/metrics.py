"""The service's Prometheus metrics. Under gunicorn they live in PROMETHEUS_MULTIPROC_DIR and the
master sums every worker's (observability.py); elsewhere (tests, flask CLI) in this process.

Labels are bounded: route templates (never raw paths), normalised methods, status codes, fixed outcomes.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to build the response, by route template, method and status",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
IN_PROGRESS = Gauge("http_requests_in_progress", "Requests being served now", multiprocess_mode="livesum")
LOGINS = Counter("service_logins_total", "Login attempts by outcome", ["outcome"])
AUTHORIZE = Counter("service_authorize_decisions_total", "POST /authorize answers by decision", ["decision"])
HASHES_IN_PROGRESS = Gauge(
    "service_password_hashes_in_progress", "argon2id hashes running now", multiprocess_mode="livesum"
)
DATABASE_ERRORS = Counter(
    "service_database_errors_total", "Errors the database driver raised, by SQLAlchemy class", ["kind"]
)

# Every outcome from the start, so dashboards and alerts see 0, not "no data", before the first one.
for _outcome in ("ok", "failed", "throttled", "busy", "disabled"):
    LOGINS.labels(_outcome)
for _decision in ("allowed", "denied", "unauthenticated"):
    AUTHORIZE.labels(_decision)
for _kind in ("OperationalError", "IntegrityError"):
    DATABASE_ERRORS.labels(_kind)

# Login answers by status: 200 ok, 401 wrong password, 429 locked, 503 hash slots full, 403 disabled.
LOGIN_OUTCOMES = {200: "ok", 401: "failed", 429: "throttled", 503: "busy", 403: "disabled"}
AUTHORIZE_DECISIONS = {200: "allowed", 403: "denied", 401: "unauthenticated"}
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
