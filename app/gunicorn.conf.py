"""gunicorn settings for the service, all from environment variables (see docs/contract.md).

No import of the app or Flask here: gunicorn reads this file in the master before the gevent worker
monkey-patches the standard library, and modules imported now would keep unpatched sockets and locks.
Bad values stop the start with a message naming the variable and what is allowed.
"""

from __future__ import annotations

import math
import os
import re
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# The master builds its logger from this class before any worker starts, so importing it here
# changes nothing for gevent's patching (it needs only logging, socket and threading, as gunicorn does).
from gunicorn.glogging import Logger

# observability.py ships next to this file; gunicorn puts that directory on sys.path only later.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import observability

WORKER_CLASSES = ("sync", "gthread", "gevent")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def env_int(name: str, default: int, minimum: int = 1, environ: Mapping[str, str] = os.environ) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number; set an integer >= {minimum}") from None
    if value < minimum:
        raise ValueError(f"{name}={raw!r} is too small; set an integer >= {minimum}")
    return value


def env_choice(
    name: str, default: str, allowed: tuple[str, ...], environ: Mapping[str, str] = os.environ
) -> str:
    value = environ.get(name, "").strip().lower() or default
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed; use one of: {', '.join(allowed)}")
    return value


def cgroup_cpu_limit(cgroup_root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs the cgroup quota allows (v2 cpu.max, else v1 cfs quota/period), None when unlimited."""
    try:
        quota_text, period_text = (cgroup_root / "cpu.max").read_text().split()[:2]
        if quota_text == "max":
            return None
        return int(quota_text) / int(period_text)
    except (OSError, ValueError):
        pass
    for v1_dir in (cgroup_root / "cpu,cpuacct", cgroup_root / "cpu"):
        try:
            quota = int((v1_dir / "cpu.cfs_quota_us").read_text())
            period = int((v1_dir / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        return quota / period if quota > 0 and period > 0 else None
    return None


def available_cpus(cgroup_root: Path = Path("/sys/fs/cgroup")) -> int:
    """CPUs this process may really use: os.cpu_count() sees the host's cores, not the container's share."""
    cpus = len(os.sched_getaffinity(0))
    limit = cgroup_cpu_limit(cgroup_root)
    if limit is not None:
        cpus = min(cpus, max(1, math.ceil(limit)))
    return cpus


def log_config(
    log_dir: Path, level: str, max_bytes: int, backup_count: int, stream: object = None
) -> dict[str, object]:
    """dictConfig for gunicorn's access/error logs and the app's loggers: JSON lines (observability.py).

    Each handler writes to stdout and to its rotating file in LOG_DIR. In a worker the lines go
    through an in-memory queue to one writer thread, so a request never waits for the file lock
    that ConcurrentRotatingFileHandler takes to let several workers rotate one file.
    """

    def queued(filename: str) -> dict[str, object]:
        return {
            "()": observability.QueuedHandler,
            "filename": str(log_dir / filename),
            "max_bytes": max_bytes,
            "backup_count": backup_count,
            "stream": stream,
        }

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": observability.JsonLineFormatter}},
        "handlers": {
            "app": queued("app.log"),
            "access": queued("access.log"),
            # Unused here; bench/gunicorn-variants/access_log_stdout_only.py logs access lines only to it.
            "stdout_access": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            },
        },
        "root": {"level": level.upper(), "handlers": ["app"]},
        "loggers": {
            # Named so gunicorn's defaults for them are replaced, not added to.
            "gunicorn.error": {"level": level.upper(), "handlers": [], "propagate": True},
            # alembic announces its plugins at INFO whenever /readyz first loads it.
            "alembic": {"level": "WARNING"},
            "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
        },
    }


# Query parameters whose values are secrets, and anything shaped like a JWT wherever it appears:
# a client that puts its token in the URL (the service never reads it there) must not leave it in
# access.log, stdout or the log collector.
_SECRET_PARAMETER = re.compile(
    r"(?i)([?&;](?:access_token|id_token|refresh_token|token|jwt|password|passwd|secret|api_key|apikey|"
    r"key|code|auth|authorization)=)[^&;#\s]*"
)
_JWT_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    if "=" not in text and "eyJ" not in text:  # neither pattern can match: most lines, no regex scan
        return text
    return _JWT_LIKE.sub(REDACTED, _SECRET_PARAMETER.sub(rf"\1{REDACTED}", text))


class RedactingLogger(Logger):
    """gunicorn's logger with secrets removed from every access-log field that carries client text."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for name in ("r", "U", "f", "a"):
            if isinstance(atoms.get(name), str):
                atoms[name] = redact(atoms[name])
        if isinstance(atoms.get("q"), str):  # the bare query: its first parameter has no "?" before it
            atoms["q"] = redact(f"?{atoms['q']}")[1:]
        for name in list(atoms):
            if name.startswith("{") and name.endswith("}i"):  # request headers, if a format names them
                value = atoms[name]
                atoms[name] = REDACTED if name in ("{authorization}i", "{cookie}i") else redact(str(value))
        return atoms

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        """One JSON line per request: the redacted request line as message, then its fields.

        route, user_id and request_id are what the app left in the WSGI environ (service/observe.py);
        a request the app never saw (a malformed request line) has none of them. The fields are read
        straight from the environ and the response, as gunicorn's atoms() computes them: atoms() also
        copies every request header, response header and environ variable, formats a timestamp and
        decodes Basic credentials on every request, none of which this line uses (issue 15: it was
        most of the access log's CPU).
        """
        if not self.access_log_enabled:
            return
        try:
            status = resp.status
            if isinstance(status, str):
                status = status.split(None, 1)[0]
            query = environ.get("QUERY_STRING")
            request_line = f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}"
            fields = {
                "request_id": environ.get("service.request_id"),
                "user_id": environ.get("service.user_id"),
                "client": environ.get("service.client") or environ.get("REMOTE_ADDR", "-"),
                "method": environ.get("REQUEST_METHOD"),
                "path": redact(str(environ.get("PATH_INFO", "")) + (f"?{query}" if query else "")),
                "route": environ.get("service.route"),
                "status": int(status) if str(status).isdigit() else status,
                "duration_ms": round(request_time.total_seconds() * 1000, 3),
                "bytes": getattr(resp, "sent", None),
                "referer": redact(environ.get("HTTP_REFERER", "-")),
                "user_agent": redact(environ.get("HTTP_USER_AGENT", "-")),
            }
            message = redact(request_line)
            if not observability.log_info_line(self.access_log, message, fields):
                self.access_log.info(message, extra=fields)  # handlers other than the queued ones
        except Exception:
            self.error(traceback.format_exc())


logger_class = RedactingLogger
wsgi_app = "service:create_app()"
# Import `service` from the directory this file ships in, whatever the working directory.
chdir = str(Path(__file__).resolve().parent)
bind = ["0.0.0.0:8000"]
backlog = 512

# gthread by default: in bench/ (docs/benchmarks.md) it served as many requests per second as gevent
# and the old config, with a p99 under load 1.4-6x lower on PostgreSQL and 6-40x lower on SQLite.
# gevent stays available (GUNICORN_WORKER_CLASS=gevent) and tested.
worker_class = env_choice("GUNICORN_WORKER_CLASS", "gthread", WORKER_CLASSES)
workers = env_int("GUNICORN_WORKERS", 2 * available_cpus() + 1)
# Only the gthread worker uses threads; sync serves one request at a time and gevent uses greenlets
# (worker_connections), so the old `threads = 2` did nothing under gevent. Four, so that a worker
# hashing a password (PASSWORD_HASH_CONCURRENCY, 1, plus PASSWORD_HASH_QUEUE, 1, threads at most)
# still has threads for /healthz, /readyz and /authorize: a login flood must not make pods unready.
threads = env_int("GUNICORN_THREADS", 4)
timeout = env_int("GUNICORN_TIMEOUT", 30)
# On SIGTERM the master stops accepting and lets workers finish in-flight requests for this long.
graceful_timeout = env_int("GUNICORN_GRACEFUL_TIMEOUT", 30, minimum=0)
keepalive = 5
# This gunicorn opens a control socket under $HOME by default; nothing here uses it, and two
# instances (or a read-only $HOME) would clash over it.
control_socket_disable = True
if Path("/dev/shm").is_dir():  # noqa: S108 (a per-process file in tmpfs, made by gunicorn)
    # The heartbeat file lives in memory: a slow or overlay disk must not make workers look dead.
    worker_tmp_dir = "/dev/shm"  # noqa: S108

_log_dir = Path(os.environ.get("LOG_DIR", "").strip() or "/app/logs")
_log_dir.mkdir(parents=True, exist_ok=True)
if not os.access(_log_dir, os.W_OK | os.X_OK):
    # Else every log record fails with a traceback while the server keeps running without file logs.
    raise PermissionError(
        f"LOG_DIR {_log_dir} is not writable by UID {os.getuid()}: a host directory mounted there "
        f"must be writable by it (e.g. chown {os.getuid()}:{os.getgid()} <host dir>)"
    )
loglevel = env_choice("LOG_LEVEL", "info", LOG_LEVELS)
logconfig_dict = log_config(
    _log_dir,
    loglevel,
    max_bytes=env_int("LOG_MAX_BYTES", 50 * 1024 * 1024),
    backup_count=env_int("LOG_BACKUP_COUNT", 10),
)

# ---- observability (issue 16): Prometheus metrics on their own port, JSON logs per worker queue ----
# Every worker writes its samples to files in PROMETHEUS_MULTIPROC_DIR (made fresh in tmpfs when
# unset); the master sums them on METRICS_PORT. The master serves no requests, so the metrics port
# answers while every worker is busy. 9464 is the port OpenTelemetry's Prometheus exporter uses.
metrics_port = env_int("METRICS_PORT", 9464, minimum=0)  # 0: no metrics server
metrics_address = os.environ.get("METRICS_ADDRESS", "").strip() or "0.0.0.0"  # noqa: S104 (scraped in-cluster)
# Before any import of prometheus_client (also with preload_app): it reads the variable at import.
observability.prepare_multiprocess_dir()


def when_ready(server: Any) -> None:
    if metrics_port:
        observability.start_metrics_server(metrics_address, metrics_port)
        server.log.info("Metrics at http://%s:%s/metrics", metrics_address, metrics_port)


def post_fork(server: Any, worker: Any) -> None:
    # From here on this worker's log lines go through its queue to one writer thread.
    observability.queue_log_records()
    preloaded = getattr(server.app, "callable", None)  # the app the master built (preload_app), else None
    if preloaded is not None:
        # Already imported by the master, so this imports nothing new (gevent never preloads).
        from service.extensions import forget_inherited_connections

        forget_inherited_connections(preloaded)


def worker_exit(server: Any, worker: Any) -> None:
    observability.flush_log_queues()  # the lines still queued reach the files before the worker ends


def on_exit(server: Any) -> None:
    observability.remove_multiprocess_dir()  # only a directory this start made, never a configured one


def child_exit(server: Any, worker: Any) -> None:
    # In the master, for a worker that exited or was killed: its live gauges leave the sums.
    observability.forget_worker(worker.pid)


# ---- issue 15: start-up and memory ----------------------------------------------------------------
# sync and gthread: import and build the app once in the master, and fork workers that share its
# memory (copy-on-write) instead of each importing Flask, SQLAlchemy, pydantic and cryptography again.
# Each worker drops any database connection it inherited (post_fork) and opens its own. Never under
# gevent: its monkey-patching must come before the app's imports, in each worker.
# (Taken out once because a crash-recovery test failed with it; the cause was the test: with preload
# the first worker answers before the master has forked the rest, so it counted a partial worker set.)
preload_app = worker_class != "gevent"
