# Bench diagnostic, not shipped: the shipped /app/gunicorn.conf.py (workers, threads, access log, log
# queues) for an app of floor_app.py, named on the command line, instead of the service. Its requests per
# second are the most the shipped worker model can serve on this machine, whatever the app does.
import runpy
from typing import Any

globals().update({k: v for k, v in runpy.run_path("/app/gunicorn.conf.py").items() if not k.startswith("__")})


def post_fork(server: Any, worker: Any) -> None:
    # The shipped hook also drops the preloaded Flask app's database connections; there are none here.
    observability.queue_log_records()  # type: ignore[name-defined] # noqa: F821 (from the shipped file)
