"""Section "profile" (issue 15): where the CPU of one authorize request goes, in the shipped container.

The shipped image runs as the serving bench runs it (bench/serving_bench.py), on PostgreSQL and on
SQLite. While wrk sends authorize requests, py-spy (a sampling profiler, dev dependency) records each
gunicorn worker with --gil, so a sample is CPU, not waiting. Each sample goes into one category; the
table gives each category's share of the samples next to the container's CPU per request (its cgroup
counter over the same wrk run). Opt-in (`--only profile`): it is a diagnostic, not a target.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.cgroup import ContainerCgroup
from bench.common import BenchError, Cleanup, run, shown
from bench.serving_bench import (
    Database,
    GunicornConfig,
    base_env,
    login,
    prepare_databases,
    start_server,
    wrk,
)
from tests.support.containers import worker_pids

PY_SPY = Path(sys.executable).parent / "py-spy"

# A sample whose stack passes through one of these, anywhere, is charged to it: the cost belongs to
# the caller's purpose (the JSON formatting of a log line is logging, not "JSON response").
STACK_MARKERS = (
    ("access log", ("RedactingLogger.access", "observability.py")),
    ("metrics", ("prometheus_client",)),
    ("pool checkout and pre-ping", ("sqlalchemy/pool/", "do_ping")),
    ("token check (PyJWT)", ("/jwt/",)),
)
# Otherwise the deepest frame that matches one of these decides.
FRAME_RULES = (
    ("database: SQLAlchemy Core and driver", ("sqlalchemy/", "psycopg", "sqlite3", "service/queries.py")),
    ("body parsing (pydantic)", ("pydantic",)),
    ("JSON response", ("/json/", "flask/json")),
    ("service code", ("/service/",)),
    ("Flask/Werkzeug", ("/flask/", "/werkzeug/")),
    ("gunicorn (HTTP, gthread loop, sockets)", ("/gunicorn/", "selectors.py", "socket.py", "concurrent/")),
)
OTHER = "other"
CATEGORIES = [name for name, _ in STACK_MARKERS] + [name for name, _ in FRAME_RULES] + [OTHER]


@dataclass
class Profile:
    db: str
    requests: int
    rps: float
    cpu_ms: float  # container CPU per request over the profiled run
    samples: int
    shares: dict[str, float]  # category -> share of the samples, 0..1
    raw_stacks: str  # the directory with py-spy's output, one file per worker


def category(frames: list[str]) -> str:
    stack = ";".join(frames)
    for name, markers in STACK_MARKERS:
        if any(marker in stack for marker in markers):
            return name
    for frame in reversed(frames):  # deepest first
        for name, patterns in FRAME_RULES:
            if any(pattern in frame for pattern in patterns):
                return name
    return OTHER


def categorize(raw: str) -> Counter[str]:
    """py-spy's raw (collapsed) output: one `frame;frame;...;leaf count` line per distinct stack."""
    counts: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[category(stack.split(";"))] += int(count)
    return counts


def container_worker_pids(container: str) -> list[int]:
    master = run(["docker", "inspect", "-f", "{{.State.Pid}}", container]).stdout.strip()
    return sorted(worker_pids(int(master)))


def profile_one(image: str, db: Database, env: dict[str, str], seconds: int, cleanup: Cleanup) -> Profile:
    name, port = start_server(image, GunicornConfig("shipped"), db, env, cleanup)
    token = login(port)
    wrk(port, "authorize", token, 16, 2)  # warm the pools and the compiled-statement cache
    # Kept after the run: the raw stacks (py-spy's collapsed format) are for a closer look or a flame graph.
    out_dir = Path(tempfile.mkdtemp(prefix=f"bench-profile-{db.name}-"))
    cgroup = ContainerCgroup.of(name)
    recorders = []
    for pid in container_worker_pids(name):
        cmd = [str(PY_SPY), "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "200"]
        cmd += ["--gil", "--nonblocking", "--full-filenames", "--format", "raw"]
        cmd += ["--output", str(out_dir / f"{pid}.txt")]
        recorders.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    cpu_before = cgroup.cpu_seconds()
    result = wrk(port, "authorize", token, 16, seconds)
    cpu_ms = (cgroup.cpu_seconds() - cpu_before) * 1000 / max(1, result["requests"])
    counts: Counter[str] = Counter()
    for recorder in recorders:
        _, stderr = recorder.communicate(timeout=seconds + 60)
        if recorder.returncode != 0:
            raise BenchError(f"py-spy failed ({recorder.returncode}): {stderr[-1000:]}")
    for output in out_dir.glob("*.txt"):
        counts += categorize(output.read_text())
    cleanup.remove_containers()
    total = sum(counts.values())
    if total == 0:
        raise BenchError("py-spy recorded no samples that held the GIL: nothing to report")
    return Profile(
        db.name,
        result["requests"],
        result["requests"] / (result["duration_us"] / 1e6),
        cpu_ms,
        total,
        {name: counts[name] / total for name in CATEGORIES},
        shown(out_dir),
    )


def bench_profile(image: str, postgres_url: str, seconds: int, cleanup: Cleanup) -> list[Profile]:
    if not PY_SPY.exists():
        raise BenchError(f"{PY_SPY} not found: install the dev requirements (scripts/bootstrap.sh)")
    if os.geteuid() != 0:
        raise BenchError("py-spy must run as root to read the container's processes")
    env = base_env()
    databases = prepare_databases(image, postgres_url, env, cleanup)
    return [profile_one(image, db, env, seconds, cleanup) for db in databases]


def profile_table(profiles: list[Profile]) -> str:
    def row(title: str, cells: list[str]) -> str:
        return f"| {title} | " + " | ".join(cells) + " |"

    lines = [row("share of worker CPU (GIL held)", [p.db for p in profiles])]
    lines.append("| --- |" + " --- |" * len(profiles))
    for name in CATEGORIES:
        lines.append(row(name, [f"{p.shares[name] * 100:.1f}%" for p in profiles]))
    lines.append(row("samples", [str(p.samples) for p in profiles]))
    lines.append(row("requests (wrk -c16), rps", [f"{p.requests}, {p.rps:.0f}" for p in profiles]))
    lines.append(row("**container CPU per request**", [f"**{p.cpu_ms:.2f} ms**" for p in profiles]))
    lines.append(row("raw stacks", [p.raw_stacks for p in profiles]))
    return "\n".join(lines)
