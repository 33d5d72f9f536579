"""JSON log lines and the Prometheus side of gunicorn: shared by gunicorn.conf.py and the service.

Only the standard library, python-json-logger and (inside functions) prometheus_client: the gunicorn
master uses this module before the gevent worker monkey-patches, so it must not import Flask or the app.

Logging without a file lock on the request path: in a worker, a log record is formatted to its JSON
line on the thread that logs it (which knows the request) and put on an in-memory queue; one writer
thread per process takes the lines off and writes them to stdout and to the rotating file. The file
handler still locks the file, so several workers rotate one file without losing lines, but only the
writer thread waits for that lock. The writer works in batches (issue 15): woken by the first line
after a pause, it waits FLUSH_SECONDS for more, then writes all it has with one write to stdout and
one locked write to the file; a put onto a queue nobody waits on wakes no thread, so under load the
request threads no longer hand the GIL to the writer for every line. The master writes directly: it
serves no requests, and a writer thread alive in it while it forks a worker could leave the worker a
stdout lock held forever.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pythonjsonlogger.json import JsonFormatter

# The standard library's sleep, taken before a gevent worker patches `time`: the writer is a real thread.
_sleep = time.sleep
# How long the writer gathers lines after the first one of a batch, and how many lines one batch takes
# at most: a line reaches stdout and the file at most this much later (and at a worker's exit, all do).
FLUSH_SECONDS = 0.05
MAX_BATCH_LINES = 2000

# Renamed to the names the operations guide and the log queries use.
_RENAMED = {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"}
# Where the service tells the formatter the request being served: request_id, user_id, client, route.
ContextProvider = Callable[[], dict[str, Any]]
_context_provider: ContextProvider | None = None


def set_context_provider(provider: ContextProvider) -> None:
    global _context_provider
    _context_provider = provider


class JsonLineFormatter(JsonFormatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, pid, plus the request's
    fields when a request is being served and any `extra` fields (gunicorn's access lines)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s %(process)d", rename_fields=_RENAMED)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return utc_time(record.created)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        if _context_provider is not None:
            for key, value in _context_provider().items():
                log_data.setdefault(key, value)


def utc_time(created: float) -> str:
    """A log line's time: UTC, ISO 8601, milliseconds (LogRecord.msecs's arithmetic)."""
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int((created - int(created)) * 1000):03d}Z"


def info_line(logger_name: str, message: str, fields: dict[str, Any], created: float) -> str:
    """The JSON line JsonLineFormatter writes for an INFO record with these `extra` fields, built
    without a LogRecord or the formatter's generic walk over the record's attributes."""
    data: dict[str, Any] = {
        "time": utc_time(created),
        "level": "INFO",
        "logger": logger_name,
        "message": message,
        "pid": os.getpid(),
        **fields,
    }
    if _context_provider is not None:
        for key, value in _context_provider().items():
            data.setdefault(key, value)
    return json.dumps(data, default=str)


def log_info_line(logger: logging.Logger, message: str, fields: dict[str, Any]) -> bool:
    """Log one INFO line straight to `logger`'s queued handlers; False (nothing written) when they are
    not all QueuedHandlers or INFO is off, and the caller logs the usual way. For gunicorn's access line,
    one per request: the LogRecord and python-json-logger's formatting were ~60% of its cost (issue 15)."""
    handlers = logger.handlers
    if not handlers or not logger.isEnabledFor(logging.INFO):
        return False
    queued = [handler for handler in handlers if type(handler) is QueuedHandler]
    if len(queued) != len(handlers):
        return False
    line = info_line(logger.name, message, fields, time.time())
    for handler in queued:
        handler.emit_line(line)
    return True


def json_formatter() -> logging.Formatter:
    return JsonLineFormatter()


_handlers: weakref.WeakSet[QueuedHandler] = weakref.WeakSet()


def queue_log_records() -> None:
    """Called in each gunicorn worker right after the fork (post_fork): start its writer threads.

    Now, before the gevent worker monkey-patches: its writers are then real threads blocking on a real
    queue, never greenlets (a lock held across a greenlet switch there could stop the worker).
    """
    for handler in list(_handlers):
        handler.start_writer()


def _plain(target: logging.Handler) -> logging.Handler:
    target.setFormatter(logging.Formatter("%(message)s"))  # the line arrives already formatted
    return target


class QueuedHandler(logging.Handler):
    """Formats each record to its JSON line and hands it to this process's writer thread (see above)."""

    def __init__(self, filename: str, max_bytes: int, backup_count: int, stream: Any = None) -> None:
        super().__init__()
        # Imported here so that merely loading this module stays cheap for the master's other users.
        from concurrent_log_handler import ConcurrentRotatingFileHandler

        self.setFormatter(JsonLineFormatter())
        self.targets: list[logging.Handler] = [
            _plain(logging.StreamHandler(sys.stdout if stream is None else stream)),
            _plain(
                ConcurrentRotatingFileHandler(
                    filename, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8"
                )
            ),
        ]
        self._queue: queue.SimpleQueue[str | None] | None = None
        self._writer: threading.Thread | None = None
        self._pid = 0  # the process whose writer thread is running; the master has none
        _handlers.add(self)

    def handle(self, record: logging.LogRecord) -> bool:
        # No handler lock: formatting needs none, and the queue is thread-safe.
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.emit_line(line)

    def emit_line(self, line: str) -> None:
        """Write a line already formatted (log_info_line's way in)."""
        if self._queue is None or self._pid != os.getpid():
            self._write([line])  # the master, or a worker before post_fork
            return
        self._queue.put(line)  # unbounded: never blocks the caller

    def _write(self, lines: list[str]) -> None:
        """One record of all the lines: one write to stdout, one locked write to the file."""
        batch = logging.makeLogRecord({"msg": "\n".join(lines), "levelno": logging.INFO})
        for target in self.targets:
            target.handle(batch)

    def start_writer(self) -> None:
        self._queue = queue.SimpleQueue()
        self._writer = threading.Thread(
            target=self._drain, args=(self._queue,), name="log-writer", daemon=True
        )
        self._writer.start()
        self._pid = os.getpid()  # last: emit() uses the queue once this says it is this process's

    def _drain(self, lines: queue.SimpleQueue[str | None]) -> None:
        stopping = False
        while not stopping:
            batch = [lines.get()]  # blocks while idle: an idle worker's writer never wakes
            if batch[0] is not None:
                _sleep(FLUSH_SECONDS)  # the lines logged meanwhile join this batch without waking anyone
            while len(batch) < MAX_BATCH_LINES:
                try:
                    batch.append(lines.get_nowait())
                except queue.Empty:
                    break
            stopping = None in batch
            written = [line for line in batch if line is not None]
            if written:
                self._write(written)

    def stop_writer(self, timeout: float = 5.0) -> None:
        """Write what is queued, then end the writer thread (a worker calls this as it exits)."""
        if self._writer is not None and self._queue is not None and self._pid == os.getpid():
            self._pid = 0  # lines logged from now on are written directly
            self._queue.put(None)
            self._writer.join(timeout)
            self._writer = None
            leftover: list[str] = []  # put by a thread that looked at _pid just before it changed
            while True:
                try:
                    line = self._queue.get_nowait()
                except queue.Empty:
                    break
                if line is not None:
                    leftover.append(line)
            if leftover:
                self._write(leftover)

    def close(self) -> None:
        self.stop_writer()
        for target in self.targets:
            target.close()
        super().close()


def flush_log_queues() -> None:
    for handler in list(_handlers):
        handler.stop_writer()


# ---- metrics ------------------------------------------------------------------------------------------

BUILD_INFO_ENV = {"version": "SERVICE_VERSION", "revision": "SERVICE_REVISION", "image": "IMAGE_REF"}


def build_info(environ: dict[str, str] | None = None) -> dict[str, str]:
    """What is running: the version and revision baked in at build time, and the image reference the
    deploy passes (a digest); 'unknown' for what was not given."""
    env = os.environ if environ is None else environ
    return {key: env.get(name, "").strip() or "unknown" for key, name in BUILD_INFO_ENV.items()}


_DIR_OWNER = "SERVICE_METRICS_DIR_PID"


def prepare_multiprocess_dir(environ: dict[str, str] | Any = os.environ) -> Path:
    """PROMETHEUS_MULTIPROC_DIR, made (in tmpfs when there is one) when unset, emptied of old samples.

    Set before any worker imports prometheus_client, which reads it at import.
    """
    import tempfile

    configured = environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if configured and environ.get(_DIR_OWNER) == str(os.getpid()):
        return Path(configured)  # gunicorn re-reads its config on HUP: keep the live workers' files
    environ[_DIR_OWNER] = str(os.getpid())
    if configured:
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):  # samples of a previous run would be added to this one's
            stale.unlink()
    else:
        shm = Path("/dev/shm")  # noqa: S108 (a private directory made by mkdtemp)
        parent = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
        directory = Path(tempfile.mkdtemp(prefix="prometheus-", dir=parent))
        environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
        _made_dirs.append(directory)
    return directory


_made_dirs: list[Path] = []


def remove_multiprocess_dir() -> None:
    """At the master's exit: remove the sample directory it made (tmpfs is memory)."""
    import shutil

    for directory in _made_dirs:
        shutil.rmtree(directory, ignore_errors=True)


def _build_info_collector(info: dict[str, str]) -> Any:
    from prometheus_client.core import GaugeMetricFamily

    class BuildInfo:
        def collect(self) -> Iterable[Any]:
            family = GaugeMetricFamily(
                "service_build_info",
                "The running build: 1, labelled with version, revision and image",
                labels=list(info),
            )
            family.add_metric(list(info.values()), 1)
            yield family

    return BuildInfo()


def start_metrics_server(address: str, port: int) -> Any:
    """Serve /metrics on its own port from the master: the sum over every worker's sample files.

    The master serves no requests, so this answers even when every worker is busy.
    """
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    registry.register(_build_info_collector(build_info()))
    server, _thread = start_http_server(port, addr=address, registry=registry)
    return server


def forget_worker(pid: int) -> None:
    """A worker exited: drop its live gauges (in-flight, hashing); its counters stay in the sums."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)
