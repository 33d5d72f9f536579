"""Every error leaves as JSON {"error": {"code", "message"}}, Werkzeug's own HTTP errors included."""

from __future__ import annotations

import json
import logging

from flask import Flask, Response
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

log = logging.getLogger(__name__)


def error_code(error: HTTPException) -> str:
    """'Method Not Allowed' -> 'method_not_allowed'."""
    return (error.name or "error").lower().replace(" ", "_").replace("'", "")


def json_error(error: HTTPException) -> Response:
    # get_response() keeps the headers Werkzeug adds (Allow on 405, WWW-Authenticate on 401).
    response = error.get_response()
    body = {"error": {"code": error_code(error), "message": error.description}}
    response.set_data(json.dumps(body))
    response.content_type = "application/json"
    return response  # type: ignore[return-value]


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, json_error)

    @app.errorhandler(sa_exc.OperationalError)
    @app.errorhandler(sa_exc.TimeoutError)
    def database_unavailable(error: Exception) -> Response:
        """The database refused, dropped or timed out (down, restarting, pool exhausted, locked): a
        passing condition the client may retry after, where a 500 would say the service is broken."""
        # The driver's first line names the failure (e.g. "connection refused"); no query parameters.
        reason = str(getattr(error, "orig", None) or error).splitlines()[0][:200]
        log.warning("database unavailable: %s: %s", type(error).__name__, reason)
        response = json_error(ServiceUnavailable("the database is unavailable; retry shortly"))
        response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("unhandled error")
        return json_error(InternalServerError("internal server error"))
