"""Per-request observability: the request id, the fields every log line of a request carries, and the
request metrics. gunicorn's access line reads route, user and request id from the WSGI environ."""

from __future__ import annotations

import ipaddress
import re
import time
import uuid
from typing import Any

import observability
from flask import Flask, Response, current_app, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

from . import metrics

REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's id is kept only when it looks like one: it is written to logs and echoed in a header.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
UNMATCHED = "<unmatched>"  # the route label of a 404: raw paths would make a label per URL scanned


def _trusted_proxy(address: str | None) -> bool:
    networks = current_app.config["TRUSTED_PROXIES"]
    if not networks or not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _request_id_and_client() -> tuple[str, str]:
    """From the trusted front proxy: its X-Request-ID and the address it saw (the last
    X-Forwarded-For hop); from anyone else a fresh id and the TCP peer."""
    peer = request.remote_addr or "unknown"
    if _trusted_proxy(request.remote_addr):
        given = request.headers.get(REQUEST_ID_HEADER, "")
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
        client = forwarded if forwarded else peer
        try:
            client = str(ipaddress.ip_address(client))
        except ValueError:
            client = peer
        if _REQUEST_ID.fullmatch(given):
            return given, client
        return uuid.uuid4().hex, client
    return uuid.uuid4().hex, peer


def _start() -> None:
    g.request_started = time.perf_counter()
    g.request_id, g.client = _request_id_and_client()
    request.environ["service.request_id"] = g.request_id
    request.environ["service.client"] = g.client
    metrics.IN_PROGRESS.inc()


def _user_id() -> int | None:
    user = g.get("user")
    return getattr(user, "id", None)


def _finish(response: Response) -> Response:
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    method = request.method if request.method in metrics.METHODS else "other"
    status = response.status_code
    started = g.get("request_started")
    if started is not None:
        metrics.REQUESTS.labels(route, method, str(status)).inc()
        metrics.LATENCY.labels(route, method, str(status)).observe(time.perf_counter() - started)
    if request.endpoint == "api.login" and status in metrics.LOGIN_OUTCOMES:
        metrics.LOGINS.labels(metrics.LOGIN_OUTCOMES[status]).inc()
    elif request.endpoint == "api.authorize" and status in metrics.AUTHORIZE_DECISIONS:
        metrics.AUTHORIZE.labels(metrics.AUTHORIZE_DECISIONS[status]).inc()
    if "request_id" in g:
        response.headers[REQUEST_ID_HEADER] = g.request_id
    request.environ["service.route"] = route
    request.environ["service.user_id"] = _user_id()
    return response


def _teardown(_error: BaseException | None) -> None:
    if g.pop("request_started", None) is not None:
        metrics.IN_PROGRESS.dec()


def log_context() -> dict[str, Any]:
    """The fields the JSON formatter adds to a log line written while a request is served."""
    if not has_request_context() or "request_id" not in g:
        return {}
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    return {"request_id": g.request_id, "user_id": _user_id(), "client": g.client, "route": route}


@event.listens_for(Engine, "handle_error")
def _count_database_error(context: Any) -> None:
    error = context.sqlalchemy_exception or context.original_exception
    metrics.DATABASE_ERRORS.labels(type(error).__name__).inc()


def init_app(app: Flask) -> None:
    """Register first, so these run before (and their teardown after) every other hook."""
    app.before_request(_start)
    app.after_request(_finish)
    app.teardown_request(_teardown)
    observability.set_context_provider(log_context)
