"""app/gunicorn.conf.py: defaults, env overrides, the CPU count a container really has, and bad values."""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.gunicorn import GUNICORN, GUNICORN_CONF, StartServer, free_port

LoadConf = Callable[..., ModuleType]


@pytest.fixture
def load_conf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> LoadConf:
    """Execute gunicorn.conf.py as gunicorn does, with only the given service env vars set."""

    def load(**env: str) -> ModuleType:
        for name in list(os.environ):
            if name.startswith(("GUNICORN_", "LOG_", "METRICS_")):
                monkeypatch.delenv(name)
        monkeypatch.setenv("LOG_DIR", str(tmp_path / "logs"))
        # The config sets these for its workers; here they must not leak into the test process.
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
        monkeypatch.setenv("SERVICE_METRICS_DIR_PID", "")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        spec = importlib.util.spec_from_file_location("gunicorn_conf_under_test", GUNICORN_CONF)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


def test_defaults_follow_the_contract(load_conf: LoadConf) -> None:
    conf = load_conf()
    assert conf.wsgi_app == "service:create_app()"
    assert conf.bind == ["0.0.0.0:8000"]
    assert conf.worker_class == "gthread"
    assert conf.workers == 2 * conf.available_cpus() + 1
    assert conf.threads == 4
    assert (conf.timeout, conf.graceful_timeout) == (30, 30)
    assert conf.loglevel == "info"
    access = conf.logconfig_dict["handlers"]["access"]
    assert access["()"] is conf.observability.QueuedHandler
    assert (access["max_bytes"], access["backup_count"]) == (50 * 1024 * 1024, 10)
    assert Path(access["filename"]).name == "access.log"
    assert Path(conf.logconfig_dict["handlers"]["app"]["filename"]).name == "app.log"
    assert (conf.metrics_port, conf.metrics_address) == (9464, "0.0.0.0")  # noqa: S104 (the value, not a bind)


def test_env_vars_override_the_defaults(load_conf: LoadConf) -> None:
    conf = load_conf(
        GUNICORN_WORKERS="7",
        GUNICORN_WORKER_CLASS="gthread",
        GUNICORN_THREADS="4",
        GUNICORN_TIMEOUT="60",
        GUNICORN_GRACEFUL_TIMEOUT="0",
        LOG_LEVEL="WARNING",
        LOG_MAX_BYTES="1000",
        LOG_BACKUP_COUNT="3",
    )
    assert (conf.workers, conf.worker_class, conf.threads) == (7, "gthread", 4)
    assert (conf.timeout, conf.graceful_timeout, conf.loglevel) == (60, 0, "warning")
    app_file = conf.logconfig_dict["handlers"]["app"]
    assert (app_file["max_bytes"], app_file["backup_count"]) == (1000, 3)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(
    ("files", "limit"),
    [
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 0.5),
        ({"cpu,cpuacct/cpu.cfs_quota_us": "-1\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),
    ],
    ids=["v2-quota", "v2-unlimited", "v1-quota", "v1-unlimited", "no-cgroup"],
)
def test_cgroup_cpu_quota_is_read_from_v2_or_v1_files(
    load_conf: LoadConf, tmp_path: Path, files: dict[str, str], limit: float | None
) -> None:
    conf = load_conf()
    root = tmp_path / "cgroup"
    root.mkdir()
    for name, text in files.items():
        write(root / name, text)
    assert conf.cgroup_cpu_limit(root) == limit


def test_available_cpus_is_capped_by_the_quota_and_the_affinity(load_conf: LoadConf, tmp_path: Path) -> None:
    conf = load_conf()
    affinity = len(os.sched_getaffinity(0))
    write(tmp_path / "half" / "cpu.max", "50000 100000\n")
    assert conf.available_cpus(tmp_path / "half") == 1  # half a CPU still needs one worker slot
    write(tmp_path / "many" / "cpu.max", "6400000 100000\n")
    assert conf.available_cpus(tmp_path / "many") == affinity  # 64 CPUs of quota, fewer to run on


def test_the_config_imports_neither_flask_nor_the_app(tmp_path: Path) -> None:
    """gevent must patch the standard library before Flask, SQLAlchemy or the app are imported."""
    check = (
        "import runpy, sys; runpy.run_path(sys.argv[1]); "
        "bad = sorted(m for m in ('flask', 'service', 'sqlalchemy', 'gevent') if m in sys.modules); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", check, str(GUNICORN_CONF)],
        env={**os.environ, "LOG_DIR": str(tmp_path), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GUNICORN_WORKERS", "abc", "GUNICORN_WORKERS='abc' is not a whole number; set an integer >= 1"),
        ("GUNICORN_WORKERS", "0", "GUNICORN_WORKERS='0' is too small; set an integer >= 1"),
        (
            "GUNICORN_WORKER_CLASS",
            "eventlet",
            "GUNICORN_WORKER_CLASS='eventlet' is not allowed; use one of: sync, gthread, gevent",
        ),
        ("GUNICORN_THREADS", "many", "GUNICORN_THREADS='many' is not a whole number"),
        ("GUNICORN_TIMEOUT", "30s", "GUNICORN_TIMEOUT='30s' is not a whole number"),
        (
            "GUNICORN_GRACEFUL_TIMEOUT",
            "-1",
            "GUNICORN_GRACEFUL_TIMEOUT='-1' is too small; set an integer >= 0",
        ),
        (
            "LOG_LEVEL",
            "loud",
            "LOG_LEVEL='loud' is not allowed; use one of: debug, info, warning, error, critical",
        ),
        ("LOG_MAX_BYTES", "50MB", "LOG_MAX_BYTES='50MB' is not a whole number"),
        ("LOG_BACKUP_COUNT", "0", "LOG_BACKUP_COUNT='0' is too small"),
        ("METRICS_PORT", "9464x", "METRICS_PORT='9464x' is not a whole number"),
    ],
)
def test_gunicorn_refuses_a_bad_setting_naming_it_and_what_is_allowed(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    env = {**os.environ, "LOG_DIR": str(tmp_path / "logs"), "DATA_DIR": str(tmp_path), name: value}
    result = subprocess.run(
        [GUNICORN, "--config", str(GUNICORN_CONF), "--bind", f"127.0.0.1:{free_port()}"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert message in result.stderr


def test_gunicorn_stops_when_runtime_env_is_unknown(start_server: StartServer) -> None:
    server = start_server(wait=False, RUNTIME_ENV="staging")
    assert server.process.wait(timeout=120) != 0
    assert "RUNTIME_ENV='staging' is not allowed; use one of: dev, test, prod" in server.output()


def test_the_access_line_fast_path_writes_what_the_json_formatter_writes(load_conf: LoadConf) -> None:
    """Issue 15: access lines skip the LogRecord and python-json-logger; the line must not change."""
    observability = load_conf().observability
    fields = {
        "request_id": "r-1",
        "user_id": None,
        "client": "10.0.0.1",
        "method": "GET",
        "path": "/api/v1/users?name=J\u00fcrgen",  # non-ASCII: escaped alike
        "route": "/api/v1/users",
        "status": 200,
        "duration_ms": 1.5,
        "bytes": 16,
        "referer": "-",
        "user_agent": 'curl/8 "quoted"',
    }
    message = "GET /api/v1/users?name=J\u00fcrgen HTTP/1.1"
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, message, None, None)
    record.__dict__.update(fields)
    expected = observability.JsonLineFormatter().format(record)
    assert observability.info_line("gunicorn.access", message, fields, record.created) == expected
