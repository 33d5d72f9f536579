"""The real gunicorn master started with the shipped app/gunicorn.conf.py, and its workers found."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import flask_migrate
import pytest
import requests
from service import create_app
from service.extensions import db

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_DIR = REPO_ROOT / "app"
GUNICORN_CONF = APP_DIR / "gunicorn.conf.py"
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
ADMIN = {"username": "admin", "password": "admin-password-123"}
BOOT_TIMEOUT = 90  # seconds; the first import of the app is slow on a busy 2-core machine


# The fields every JSON log line carries, and those an access line adds (docs/contract.md, logs).
LOG_FIELDS = frozenset({"time", "level", "logger", "message", "pid"})
ACCESS_LOG_FIELDS = LOG_FIELDS | {
    "request_id",
    "user_id",
    "client",
    "method",
    "path",
    "route",
    "status",
    "duration_ms",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_pids(pid: int) -> set[int]:
    """Live (not zombie) processes whose parent is `pid`, read from /proc."""
    children = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may hold spaces, so split after the last ')'.
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            children.add(int(entry.name))
    return children


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log_dir: Path
    stdout_path: Path
    workers: int
    env: dict[str, str] = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.env['METRICS_PORT']}/metrics"

    def worker_pids(self) -> set[int]:
        return child_pids(self.process.pid)

    def output(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def wait_until_serving(self) -> None:
        """Until /healthz answers and every worker has booted; fail with gunicorn's output if not."""
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited with {self.process.returncode}:\n{self.output()[-5000:]}")
            try:
                healthy = requests.get(f"{self.url}/healthz", timeout=5).status_code == 200
            except requests.RequestException:  # refused, or accepted but workers still booting
                healthy = False
            booted = self.output().count("Booting worker with pid") >= self.workers
            if healthy and booted and len(self.worker_pids()) == self.workers:
                return
            time.sleep(0.3)
        pytest.fail(f"gunicorn did not serve within {BOOT_TIMEOUT}s:\n{self.output()[-5000:]}")


def migrate_and_add_admin(data_dir: Path, database_url: str = "") -> Path:
    """Upgrade the database (default: SQLite in data_dir) to the migration head and add the admin."""
    app = create_app({"RUNTIME_ENV": "test", "DATA_DIR": str(data_dir), "DATABASE_URL": database_url})
    with app.app_context():
        flask_migrate.upgrade()
        result = app.test_cli_runner().invoke(
            args=["create-admin", ADMIN["username"], "--keep-password"],
            env={"ADMIN_PASSWORD": ADMIN["password"]},
        )
        assert result.exit_code == 0, result.output
        db.engine.dispose()
    return data_dir


def start_gunicorn(tmp_dir: Path, data_dir: Path, **env_overrides: str) -> Server:
    """Start gunicorn with the shipped config; only the bind is overridden (-b), to a free local port."""
    port = free_port()
    log_dir = tmp_dir / "logs"
    private = ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR", "SERVICE_METRICS_DIR_PID")
    inherited = {name: value for name, value in os.environ.items() if name not in private}
    env = {
        **inherited,
        "RUNTIME_ENV": "test",
        "LOG_DIR": str(log_dir),
        "DATA_DIR": str(data_dir),
        "GUNICORN_WORKERS": "2",
        # Metrics on another free loopback port; the master makes its own sample directory.
        "METRICS_PORT": str(free_port()),
        "METRICS_ADDRESS": "127.0.0.1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_dir / "metrics"),
        **env_overrides,
    }
    stdout_path = tmp_dir / "gunicorn-output.txt"
    with stdout_path.open("wb") as stdout:
        process = subprocess.Popen(
            [GUNICORN, "--config", str(GUNICORN_CONF), "--bind", f"127.0.0.1:{port}"],
            cwd=tmp_dir,
            env=env,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so teardown can kill master and workers
        )
    return Server(process, port, log_dir, stdout_path, int(env["GUNICORN_WORKERS"]), env)


def stop(server: Server) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=30)
    else:
        # The master is gone; make sure no worker of ours lingers in its group.
        try:
            os.killpg(server.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def json_log_lines(text: str) -> list[dict[str, object]]:
    """Every line of a log as the JSON object it must be; fails naming the first line that is not one."""
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            pytest.fail(f"not a JSON log line: {line!r}")
        assert isinstance(record, dict), line
        records.append(record)
    return records


StartServer = Callable[..., Server]
