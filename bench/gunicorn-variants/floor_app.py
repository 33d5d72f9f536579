# Bench diagnostic, not shipped: apps that do no work, so the server and the framework alone are measured,
# what a request costs before any token check, query or logging of the service. Every path answers 200
# with the same small JSON (the bench waits for /healthz, then loads POST /api/v1/authorize).
#   app:       plain WSGI: reads the body, answers. What the gunicorn worker model costs on its own.
#   flask_app: an empty Flask view that parses the JSON body, as the service's views do.
from collections.abc import Callable
from typing import Any

from flask import Flask, request

BODY = b'{"allowed": true}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ: dict[str, Any], start_response: Callable[..., object]) -> list[bytes]:
    environ["wsgi.input"].read()
    start_response("200 OK", HEADERS)
    return [BODY]


flask_app = Flask(__name__)


@flask_app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
@flask_app.route("/<path:path>", methods=["GET", "POST"])
def allowed(path: str) -> dict[str, bool]:
    request.get_json(silent=True)
    return {"allowed": True}
