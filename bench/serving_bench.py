"""Section 2: gunicorn configurations under wrk, on the shipped image, with PostgreSQL and SQLite.

Every configuration runs the same image against the same prepared database; only gunicorn's config
(and the worker-class env var) changes. The containers use the host network and bind 127.0.0.1
only, so no proxy sits between wrk and gunicorn and no traffic leaves the machine.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import statistics
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench.cgroup import ContainerCgroup, machine_busy_seconds
from bench.common import BENCH_DIR, BenchError, Cleanup, Spread, label_args, run, wait_for_status

OLD_CONF = BENCH_DIR / "seed-style" / "docker" / "gunicorn.conf"
VARIANTS_DIR = BENCH_DIR / "gunicorn-variants"
WRK_SCRIPT = BENCH_DIR / "wrk" / "request.lua"
ADMIN_USER = "benchadmin"
ADMIN_PASSWORD = "bench-password-123"
# The admin role holds every permission, so authorize answers 200 (a 403 would count as an error).
AUTHORIZE_BODY = json.dumps({"permission": "users:read"})
ENDPOINTS = {
    "healthz": ("GET", "/healthz"),
    "authorize": ("POST", "/api/v1/authorize"),
}
WORKER_CLASSES = ("sync", "gthread", "gevent")
SERVICE_APP = "service:create_app()"
FLOOR_APP = VARIANTS_DIR / "floor_app.py"


@dataclass(frozen=True)
class GunicornConfig:
    """One way to start gunicorn in the shipped image."""

    name: str
    env: dict[str, str] = field(default_factory=dict)
    # A config file mounted at /bench/<its name> and used instead of /app/gunicorn.conf.py.
    conf_file: Path | None = None
    # The app on the command line, after the options: the old config names none (the old command line did).
    app: str = ""
    # More files mounted at /bench/<their name>, which is then on the workers' import path.
    extra_files: tuple[Path, ...] = ()
    endpoints: tuple[str, ...] = tuple(ENDPOINTS)


@dataclass
class Database:
    """A prepared database: container env and mounts, and a bearer token for the bench admin."""

    name: str
    env: dict[str, str]
    mounts: list[str]
    token: str = ""


@dataclass
class LoadResult:
    database: str
    config: str
    endpoint: str
    concurrency: int
    rps: Spread
    p50_ms: Spread
    p99_ms: Spread
    errors: int  # summed over the runs: socket errors + non-2xx answers
    requests: int
    loadavg: float  # mean 1-minute load average at the start of the cell's runs: how busy the machine was
    # The container's CPU (cgroup counter) per request: steady on a loaded machine, unlike rps.
    cpu_ms: Spread = field(default_factory=lambda: Spread([0.0]))
    # The whole machine's busy CPU per request (container, wrk, PostgreSQL, kernel): on a quiet machine,
    # cores / this is the most requests per second the configuration can reach here.
    machine_cpu_ms: Spread = field(default_factory=lambda: Spread([0.0]))


@dataclass
class ServerResult:
    """One configuration's start-up and memory, over the rounds."""

    database: str
    config: str
    start_s: Spread  # `docker run` until /healthz first answers 200
    rss_idle_mb: Spread  # the container's RSS (cgroup) once serving, before any load
    rss_load_mb: Spread  # ... right after its last measured load run
    # The summed Pss of its processes (shared pages counted once), idle and after load.
    pss_idle_mb: Spread = field(default_factory=lambda: Spread([0.0]))
    pss_load_mb: Spread = field(default_factory=lambda: Spread([0.0]))
    loadavg: float = 0.0  # mean 1-minute load average right before the starts: how quiet the machine was


@dataclass
class ServingPlan:
    concurrencies: list[int]
    duration_s: int
    runs: int
    warmup_s: int
    # Every worker class and the logging diagnostics (full run); else only shipped, old and one variant.
    all_configs: bool = True
    # Only configurations whose name contains one of these (all when empty): `--configs gthread old`.
    config_filter: tuple[str, ...] = ()
    endpoints: tuple[str, ...] = tuple(ENDPOINTS)


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def docker_env(env: dict[str, str]) -> list[str]:
    return [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]


def base_env() -> dict[str, str]:
    # prod: the settings the service really ships with (prod refuses a short or default key).
    return {"RUNTIME_ENV": "prod", "SECRET_KEY": secrets.token_hex(32), "LOG_LEVEL": "info"}


def flask_in_image(image: str, db: Database, env: dict[str, str], *args: str) -> None:
    """One-shot `flask ...` in the image against the bench database (migrations, first admin)."""
    cmd = ["docker", "run", "--rm", "--network", "host", *label_args("serving"), *db.mounts]
    run([*cmd, *docker_env({**env, **db.env}), image, "flask", *args], timeout=300)


def prepare_databases(image: str, postgres_url: str, env: dict[str, str], cleanup: Cleanup) -> list[Database]:
    """A fresh PostgreSQL database and a fresh SQLite volume, migrated, each with the bench admin."""
    suffix = uuid.uuid4().hex[:8]
    pg_name = f"bench_{suffix}"
    run(["su", "postgres", "-c", f"createdb -O model {pg_name}"])
    cleanup.databases.append(pg_name)
    pg_url = postgres_url.rsplit("/", 1)[0] + f"/{pg_name}"
    volume = f"microservice-model-bench-sqlite-{suffix}"
    run(["docker", "volume", "create", *label_args("serving"), volume])
    cleanup.volumes.append(volume)
    databases = [
        Database("postgresql", {"DATABASE_URL": pg_url}, []),
        Database("sqlite", {}, ["-v", f"{volume}:/app/data"]),
    ]
    for db in databases:
        flask_in_image(image, db, env, "db", "upgrade")
        flask_in_image(
            image,
            db,
            {**env, "ADMIN_PASSWORD": ADMIN_PASSWORD},
            "create-admin",
            ADMIN_USER,
            "--keep-password",
        )
    return databases


def login(port: int) -> str:
    body = json.dumps({"username": ADMIN_USER, "password": ADMIN_PASSWORD}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/auth/login",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return str(json.load(response)["access_token"])


def start_server(
    image: str, config: GunicornConfig, db: Database, env: dict[str, str], cleanup: Cleanup
) -> tuple[str, int]:
    """Start gunicorn with `config`; return (container name, port) once /healthz answers."""
    port = free_port()
    name = f"microservice-model-bench-serve-{uuid.uuid4().hex[:8]}"
    cmd = ["docker", "run", "-d", "--name", name, "--network", "host", *label_args("serving"), *db.mounts]
    conf = "/app/gunicorn.conf.py"
    if config.conf_file is not None:
        conf = f"/bench/{config.conf_file.name}"
        cmd += ["-v", f"{config.conf_file}:{conf}:ro"]
    for extra in config.extra_files:
        cmd += ["-v", f"{extra}:/bench/{extra.name}:ro"]
    cmd += [*docker_env({**env, **db.env, **config.env}), image]
    cmd += ["gunicorn", "--config", conf, "--bind", f"127.0.0.1:{port}"]
    if config.extra_files:
        cmd += ["--pythonpath", "/bench"]
    if config.app:
        cmd.append(config.app)
    run(cmd)
    cleanup.containers.append(name)
    try:
        wait_for_status(f"http://127.0.0.1:{port}/healthz", timeout=90)
    except BenchError as error:
        logs = run(["docker", "logs", "--tail", "30", name], check=False)
        raise BenchError(f"{error}\n{logs.stdout[-2000:]}{logs.stderr[-2000:]}") from None
    return name, port


def worker_summary(container: str) -> str:
    """What gunicorn says it runs: worker class and number of workers (from its start-up log)."""
    logs = run(["docker", "logs", container], check=False)
    text = logs.stdout + logs.stderr
    worker = re.search(r"Using worker: (\w+)", text)
    booted = len(set(re.findall(r"Booting worker with pid: (\d+)", text)))
    return f"{worker.group(1) if worker else '?'} x{booted}"


def settled_workers(container: str, timeout_s: float = 20.0) -> str:
    """worker_summary once no more workers boot: the first 200 may come from the first worker alone."""
    summary, deadline = worker_summary(container), time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(1.5)
        latest = worker_summary(container)
        if latest == summary:
            break
        summary = latest
    return summary


def wrk(port: int, endpoint: str, token: str, concurrency: int, duration_s: int) -> dict[str, int]:
    """One wrk run; returns the numbers request.lua's done() printed."""
    method, path = ENDPOINTS[endpoint]
    env = {"BENCH_METHOD": method, "BENCH_TOKEN": token if endpoint == "authorize" else ""}
    env["BENCH_BODY"] = AUTHORIZE_BODY if endpoint == "authorize" else ""
    threads = min(2, concurrency)
    cmd = ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{duration_s}s", "--timeout", "5s"]
    cmd += ["--latency", "-s", str(WRK_SCRIPT), f"http://127.0.0.1:{port}{path}"]
    result = run(cmd, env=env, timeout=duration_s + 60)
    match = re.search(r"^BENCH_JSON (.*)$", result.stdout, re.MULTILINE)
    if match is None:
        raise BenchError(f"wrk printed no BENCH_JSON line:\n{result.stdout[-2000:]}")
    return dict(json.loads(match.group(1)))


def summarize(
    db: Database,
    config: GunicornConfig,
    endpoint: str,
    concurrency: int,
    samples: list[dict[str, int]],
    load: float,
    cpu_seconds: list[float],
    machine_seconds: list[float],
) -> LoadResult:
    """One table row from the wrk runs of one cell."""
    rps = [s["requests"] / (s["duration_us"] / 1e6) for s in samples]
    errors = sum(s["connect"] + s["read"] + s["write"] + s["timeout"] + s["status"] for s in samples)
    return LoadResult(
        database=db.name,
        config=config.name,
        endpoint=endpoint,
        concurrency=concurrency,
        rps=Spread(rps),
        p50_ms=Spread([s["p50_us"] / 1000 for s in samples]),
        p99_ms=Spread([s["p99_us"] / 1000 for s in samples]),
        errors=errors,
        requests=sum(s["requests"] for s in samples),
        loadavg=load,
        cpu_ms=per_request_ms(cpu_seconds, samples),
        machine_cpu_ms=per_request_ms(machine_seconds, samples),
    )


def per_request_ms(seconds: list[float], samples: list[dict[str, int]]) -> Spread:
    return Spread([cpu * 1000 / max(s["requests"], 1) for cpu, s in zip(seconds, samples, strict=True)])


def configs_to_compare(default_class: str, all_configs: bool) -> list[GunicornConfig]:
    """Shipped defaults, the old config, the shipped settings with each other worker class, two
    diagnostics (authorize only) that tell what the shipped access logging costs, and the floors."""
    stdout_only = GunicornConfig(
        "diag: access log stdout only",
        conf_file=VARIANTS_DIR / "access_log_stdout_only.py",
        endpoints=("authorize",),
    )
    configs = [
        GunicornConfig(f"shipped ({default_class})"),
        GunicornConfig("old (seed)", conf_file=OLD_CONF, app=SERVICE_APP),
    ]
    # The floors: a worker model serving an app that does no work (floor_app.py), plain WSGI or an
    # empty Flask view. No app on that worker model, or no Flask app, can serve more per second here.
    floors = [
        floor(f"floor: {default_class}, shipped settings", "app", VARIANTS_DIR / "floor_shipped.py"),
        floor(
            f"floor+flask: {default_class}, shipped settings", "flask_app", VARIANTS_DIR / "floor_shipped.py"
        ),
        floor("floor: gevent, seed settings", "app", OLD_CONF),
        floor("floor+flask: gevent, seed settings", "flask_app", OLD_CONF),
    ]
    if not all_configs:
        return [*configs, stdout_only, *floors]
    for worker_class in WORKER_CLASSES:
        if worker_class != default_class:
            configs.append(
                GunicornConfig(f"shipped + {worker_class}", env={"GUNICORN_WORKER_CLASS": worker_class})
            )
    no_log = GunicornConfig(
        "diag: no access log", conf_file=VARIANTS_DIR / "no_access_log.py", endpoints=("authorize",)
    )
    # gthread with one thread instead of the default four: what does the thread pool per worker cost?
    threads = GunicornConfig(
        "shipped + gthread x1 thread",
        env={"GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": "1"},
        endpoints=("authorize",),
    )
    floor_one_thread = floor(
        "floor: gthread x1 thread, shipped settings",
        "app",
        VARIANTS_DIR / "floor_shipped.py",
        env={"GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": "1"},
    )
    return [*configs, threads, stdout_only, no_log, *floors, floor_one_thread]


def floor(name: str, app: str, conf_file: Path, env: dict[str, str] | None = None) -> GunicornConfig:
    """A configuration serving an app of floor_app.py (authorize only: every path answers alike)."""
    return GunicornConfig(
        name,
        env=env or {},
        conf_file=conf_file,
        app=f"floor_app:{app}",
        extra_files=(FLOOR_APP,),
        endpoints=("authorize",),
    )


def bench_serving(
    image: str, postgres_url: str, plan: ServingPlan, cleanup: Cleanup
) -> tuple[list[LoadResult], dict[str, str], list[ServerResult]]:
    """Every configuration x database x endpoint x concurrency. Returns results, worker summaries and
    each configuration's start-up time and memory."""
    env = base_env()
    databases = prepare_databases(image, postgres_url, env, cleanup)
    # Which class is the default: ask the image itself rather than assume.
    name, _port = start_server(image, GunicornConfig("probe"), databases[1], env, cleanup)
    default_class = worker_summary(name).split()[0]
    run(["docker", "rm", "-f", name], check=False)
    configs = [
        config
        for config in configs_to_compare(default_class, plan.all_configs)
        if not plan.config_filter or any(part in config.name for part in plan.config_filter)
    ]
    results: list[LoadResult] = []
    servers: list[ServerResult] = []
    workers: dict[str, str] = {}
    for db in databases:
        # Rounds, config order rotating each round, one server at a time (several at once would
        # exceed PostgreSQL's 100 connections): the other engineers' load, which comes and goes over
        # minutes, then falls on every configuration alike instead of on whichever ran at that time.
        samples: dict[tuple[str, str, int], list[dict[str, int]]] = {}
        loads: dict[tuple[str, str, int], list[float]] = {}
        cpu: dict[tuple[str, str, int], list[float]] = {}
        machine: dict[tuple[str, str, int], list[float]] = {}
        # config -> (start s, RSS idle MB, RSS after load MB, Pss idle MB, Pss after load MB, load) per round
        memory: dict[str, list[tuple[float, float, float, float, float, float]]] = {}
        for round_index in range(plan.runs):
            shift = round_index % len(configs)
            for config in configs[shift:] + configs[:shift]:
                start_load = os.getloadavg()[0]
                started = time.perf_counter()
                name, port = start_server(image, config, db, env, cleanup)
                start_s = time.perf_counter() - started
                cgroup = ContainerCgroup.of(name)
                workers[config.name] = settled_workers(name)
                rss_idle, pss_idle = cgroup.rss_mb(), cgroup.pss_mb()
                db.token = db.token or login(port)
                for endpoint in [e for e in config.endpoints if e in plan.endpoints]:
                    wrk(port, endpoint, db.token, max(plan.concurrencies), plan.warmup_s)  # warm pools
                    for concurrency in plan.concurrencies:
                        key = (config.name, endpoint, concurrency)
                        loads.setdefault(key, []).append(os.getloadavg()[0])
                        cpu_before, machine_before = cgroup.cpu_seconds(), machine_busy_seconds()
                        samples.setdefault(key, []).append(
                            wrk(port, endpoint, db.token, concurrency, plan.duration_s)
                        )
                        cpu.setdefault(key, []).append(cgroup.cpu_seconds() - cpu_before)
                        machine.setdefault(key, []).append(machine_busy_seconds() - machine_before)
                memory.setdefault(config.name, []).append(
                    (start_s, rss_idle, cgroup.rss_mb(), pss_idle, cgroup.pss_mb(), start_load)
                )
                cleanup.remove_containers()
                print(f"  {db.name} round {round_index + 1}/{plan.runs}: {config.name} measured")
        for (config_name, endpoint, concurrency), runs in samples.items():
            config = next(c for c in configs if c.name == config_name)
            load = statistics.mean(loads[config_name, endpoint, concurrency])
            key = (config_name, endpoint, concurrency)
            result = summarize(db, config, endpoint, concurrency, runs, load, cpu[key], machine[key])
            results.append(result)
            print(
                f"  {db.name:10} {config.name:18} {endpoint:9} c={concurrency:<4} "
                f"{result.rps.fmt(0):>18} rps  p99 {result.p99_ms.fmt(1):>18} ms  "
                f"CPU {result.cpu_ms.fmt(2)} ms/request (machine {result.machine_cpu_ms.fmt(2)})  "
                f"errors {result.errors}"
            )
        for config_name, rounds in memory.items():
            start, idle, loaded, idle_pss, loaded_pss = (Spread([r[i] for r in rounds]) for i in range(5))
            start_load = statistics.mean(r[5] for r in rounds)
            server = ServerResult(db.name, config_name, start, idle, loaded, idle_pss, loaded_pss, start_load)
            servers.append(server)
    return results, workers, servers
