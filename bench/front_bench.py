"""Section 6 (issue 13): the front proxy on the docker target.

1. Requests lost per code-change redeploy, under the same steady load (8 keep-alive clients GETting
   /readyz and /healthz on 127.0.0.1, nothing retried by the client), for:
   - the old online.sh sequence (docker stop, rm, run -p, exec flask db upgrade) on images the stack built;
   - the test stack with frontProxy none (one published container, replaced delete-first);
   - the test stack with frontProxy nginx (the front on the port; app containers created before the old
     one is deleted).
   The stacks run through tests/deploy's harness, on a bench port, suffix and log dir of their own.
2. The latency the front adds on the authorize endpoint (the budget: p50 + 1 ms at moderate load), POST
   /api/v1/authorize on three paths, interleaved: straight to the app container's address on the stack
   network, to the front container's address (the same hops plus nginx), and through the published port
   on 127.0.0.1 (plus the engine's port forwarding, which frontProxy none pays as well). Moderate load is a
   fixed rate well under capacity (hey, 4 clients x 50 requests/s, a bounded count), the same on every
   path, with each container's CPU per request from its cgroup; a closed-loop wrk -c 4 run per path
   (which saturates the 2 cores) is kept for capacity.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import requests

from bench.cgroup import ContainerCgroup
from bench.common import BenchError, Cleanup, run, wait_for_status
from bench.deploy_bench import copy_project, log_dir
from bench.image_bench import one_line_change
from bench.serving_bench import ADMIN_PASSWORD, ADMIN_USER, AUTHORIZE_BODY, WRK_SCRIPT, free_port
from components.docker.front import FRONT_PORT
from tests.support.docker_engine.deployer import StackDeployer
from tests.support.docker_engine.load import SteadyLoad
from tests.support.images import build_front_image, labels_for

CLIENTS = 8
LATENCY_CONNECTIONS = 4
# "Moderate load": a fixed 200 requests/s (4 clients x 50/s), the same on every path and well under what
# either path serves on 2 cores (over 600/s through the front, over 1,200/s direct, at saturation).
RATE_PER_CLIENT = 50
RATE_REQUESTS = 2_000  # per path and round: 10 s at the rate
RATE_REQUESTS_QUICK = 600
BUDGET_MS = 1.0


@dataclass
class Outage:
    method: str
    redeploys: int
    requests: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    outage_s: list[float] = field(default_factory=list)
    wall_s: list[float] = field(default_factory=list)


@dataclass
class FrontResult:
    outages: list[Outage]
    latency: FrontLatency | None


def under_load(port: int, switch: Any) -> tuple[SteadyLoad, float]:
    """`switch()` under CLIENTS steady clients; at least 300 answers before, and 300 after it."""
    base = f"http://127.0.0.1:{port}"
    load = SteadyLoad([f"{base}/readyz", f"{base}/healthz"], clients=CLIENTS, max_seconds=900)
    with load:
        load.wait_for(300)
        started = time.perf_counter()
        switch()
        wait_for_status(f"{base}/readyz", timeout=120)
        wall = time.perf_counter() - started
        load.wait_for(len(load.answers) + 300, timeout=120)
    return load, wall


def record(outage: Outage, load: SteadyLoad, wall: float) -> None:
    outage.requests.append(len(load.answers))
    outage.failed.append(len(load.failed))
    outage.outage_s.append(load.outage_seconds())
    outage.wall_s.append(wall)
    print(f"  {outage.method}: {load.summary()}, outage {load.outage_seconds():.2f} s, {wall:.1f} s to ready")


def stack_redeploys(
    mode: str, base_image: str, front_image: str, runs: int, cleanup: Cleanup
) -> tuple[Outage, list[str], FrontLatency | None]:
    """Deploy the test stack with frontProxy `mode`, then `runs` code-change redeploys under load."""
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-front-{mode}-"))
    cleanup.paths.append(tmp)
    project = copy_project(tmp)
    port = free_port()
    suffix = f"bench-{uuid.uuid4().hex[:6]}"
    config = {
        "hostPort": port,
        "hostIp": "127.0.0.1",
        "containerSuffix": suffix,
        "logDir": str(log_dir(cleanup)),
        "imageRepository": f"microservice-model-bench/front-{mode}",
    }
    (tmp / "work").mkdir()
    deployer = StackDeployer(
        project_dir=project,
        workdir=tmp / "work",
        base_image=base_image,
        front_image=front_image if mode == "nginx" else None,
    )
    outage = Outage(f"Pulumi test stack, frontProxy {mode}", runs)
    images: list[str] = []
    exports: dict[str, Any] = {}
    latency = None

    def deploy() -> None:
        result = deployer.up(config=config, wait_for_port=False)
        images.extend(image["id"] for image in result.built_images)
        cleanup.images.extend(image["id"] for image in result.built_images)
        if result.error:
            raise BenchError(f"the {mode} deploy failed: {result.error}\n{result.traceback}")
        exports.update(result.exports)

    one_line_change(project / "app")  # an image ID of the bench's own (see deploy_bench.pulumi_stack)
    try:
        deploy()
        wait_for_status(f"http://127.0.0.1:{port}/readyz", timeout=120)
        for _ in range(runs):
            one_line_change(project / "app")
            load, wall = under_load(port, deploy)
            record(outage, load, wall)
        if mode == "nginx":
            latency = front_latency(port, exports["containerName"], exports["frontContainerName"], runs)
    finally:
        deployer.cleanup()
    return outage, images, latency


def old_script_redeploys(images: list[str], base_image: str, runs: int, cleanup: Cleanup) -> Outage:
    """online.sh's switch on images already built (its build happens before `docker stop`, while the old
    container serves, so only the switch loses requests): stop, rm, run -dit -p, exec flask db upgrade."""
    port = free_port()
    name = f"microservice.model-bench-old-{uuid.uuid4().hex[:6]}"
    logs = log_dir(cleanup)
    cleanup.containers.append(name)
    outage = Outage("old online.sh sequence (stop, rm, run, exec db upgrade)", runs)

    def start(image: str) -> None:
        run(["docker", "stop", name], check=False)
        run(["docker", "rm", name], check=False)
        labels = [f"--label={key}={value}" for key, value in labels_for("bench-front").items()]
        run(["docker", "run", "-dit", "-p", f"127.0.0.1:{port}:8000", "--name", name, *labels,
             "-v", f"{logs}:/app/logs", "-e", "RUNTIME_ENV=test", image])  # fmt: skip
        run(["docker", "exec", name, "flask", "db", "upgrade"])

    start(images[0])
    wait_for_status(f"http://127.0.0.1:{port}/readyz", timeout=120)
    for index in range(runs):
        image = images[(index + 1) % len(images)]
        load, wall = under_load(port, lambda image=image: start(image))
        record(outage, load, wall)
    run(["docker", "rm", "-f", name], check=False)
    return outage


def wrk(url: str, token: str, seconds: int) -> dict[str, int]:
    env = {"BENCH_METHOD": "POST", "BENCH_TOKEN": token, "BENCH_BODY": AUTHORIZE_BODY}
    cmd = ["wrk", "-t", "2", "-c", str(LATENCY_CONNECTIONS), "-d", f"{seconds}s", "--timeout", "5s"]
    result = run([*cmd, "--latency", "-s", str(WRK_SCRIPT), url], env=env, timeout=seconds + 60)
    match = re.search(r"^BENCH_JSON (.*)$", result.stdout, re.MULTILINE)
    if match is None:
        raise BenchError(f"wrk printed no BENCH_JSON line:\n{result.stdout[-2000:]}")
    numbers = dict(json.loads(match.group(1)))
    errors = sum(numbers[key] for key in ("connect", "read", "write", "status", "timeout"))
    if errors:
        raise BenchError(f"wrk saw {errors} errors against {url}: {numbers}")
    return numbers


def hey_at_rate(url: str, token: str, count: int) -> tuple[list[float], float]:
    """`count` authorize requests at RATE_PER_CLIENT x LATENCY_CONNECTIONS per second (hey's per-worker
    ticker: a fixed schedule while answers come back faster than the interval); their latencies in ms,
    and the wall time in s. Any answer but 200 fails the bench."""
    cmd = ["hey", "-n", str(count), "-c", str(LATENCY_CONNECTIONS), "-q", str(RATE_PER_CLIENT), "-t", "5",
           "-m", "POST", "-T", "application/json", "-H", f"Authorization: Bearer {token}",
           "-d", AUTHORIZE_BODY, "-o", "csv", url]  # fmt: skip
    started = time.perf_counter()
    result = run(cmd, timeout=count / (RATE_PER_CLIENT * LATENCY_CONNECTIONS) + 60)
    wall = time.perf_counter() - started
    rows = [line.split(",") for line in result.stdout.splitlines()[1:] if line.strip()]
    bad = [row for row in rows if row[6] != "200"]
    if len(rows) != count or bad:
        raise BenchError(f"hey against {url}: {len(rows)} answers of {count}, {len(bad)} not 200: {bad[:3]}")
    return [float(row[0]) * 1000 for row in rows], wall


def docker_proxy_cpu_seconds(port: int) -> float:
    """CPU time of the docker-proxy processes that carry the published port (0 when the engine forwards it
    without one): the host-side hop of the published path, outside every container's cgroup."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
            if not args[0].endswith(b"docker-proxy") or str(port).encode() not in args:
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


@dataclass
class PathLatency:
    """One path's numbers over the rounds: fixed rate (hey) and saturated (wrk -c 4)."""

    path: str
    rate_p50_ms: list[float] = field(default_factory=list)
    rate_p99_ms: list[float] = field(default_factory=list)
    rate_rps: list[float] = field(default_factory=list)
    # CPU per request at the fixed rate, in µs: the app container, the front container, docker-proxy
    app_cpu_us: list[float] = field(default_factory=list)
    front_cpu_us: list[float] = field(default_factory=list)
    proxy_cpu_us: list[float] = field(default_factory=list)
    saturated_p50_ms: list[float] = field(default_factory=list)
    saturated_p99_ms: list[float] = field(default_factory=list)
    saturated_rps: list[float] = field(default_factory=list)


@dataclass
class FrontLatency:
    connections: int
    rate_per_s: int
    requests_per_round: int
    paths: dict[str, PathLatency] = field(default_factory=dict)

    def added_p50_ms(self, path: str = "front") -> float:
        direct = self.paths["direct"].rate_p50_ms
        return statistics.median(self.paths[path].rate_p50_ms) - statistics.median(direct)


class CpuMeter:
    """CPU seconds of the app container, the front container and docker-proxy, between two reads."""

    def __init__(self, app: str, front: str, port: int) -> None:
        self.app, self.front, self.port = ContainerCgroup.of(app), ContainerCgroup.of(front), port

    def read(self) -> tuple[float, float, float]:
        return self.app.cpu_seconds(), self.front.cpu_seconds(), docker_proxy_cpu_seconds(self.port)


def front_latency(port: int, app_container: str, front_container: str, runs: int) -> FrontLatency:
    """authorize on three paths, interleaved, `runs`+1 rounds: straight to the app container's address,
    to the front container's address (the same hops plus nginx: what the front itself adds), and through
    the published port on 127.0.0.1 (plus the engine's port forwarding, which frontProxy none has too)."""
    client = docker.from_env()
    container = client.containers.get(app_container)
    code, output = container.exec_run(
        ["flask", "create-admin", ADMIN_USER, "--keep-password"],
        environment={"ADMIN_PASSWORD": ADMIN_PASSWORD},
    )
    if code != 0:
        raise BenchError(f"create-admin failed: {output.decode(errors='replace')}")
    login = requests.post(
        f"http://127.0.0.1:{port}/api/v1/auth/login",
        json={"username": ADMIN_USER, "password": ADMIN_PASSWORD},
        timeout=30,
    )
    token = login.json()["access_token"]

    def address(name: str) -> str:
        attrs = client.containers.get(name).attrs
        return str(next(iter(attrs["NetworkSettings"]["Networks"].values()))["IPAddress"])

    urls = {
        "direct": f"http://{address(app_container)}:8000/api/v1/authorize",
        "front": f"http://{address(front_container)}:{FRONT_PORT}/api/v1/authorize",
        "published": f"http://127.0.0.1:{port}/api/v1/authorize",
    }
    count = RATE_REQUESTS if runs > 1 else RATE_REQUESTS_QUICK
    seconds = 5 if runs > 1 else 3
    meter = CpuMeter(app_container, front_container, port)
    result = FrontLatency(LATENCY_CONNECTIONS, RATE_PER_CLIENT * LATENCY_CONNECTIONS, count)
    for path, url in urls.items():  # warm every path (connections, worker caches)
        result.paths[path] = PathLatency(path)
        hey_at_rate(url, token, LATENCY_CONNECTIONS * 20)
        wrk(url, token, 1)
    for _ in range(runs + 1):
        for path, url in urls.items():
            numbers = result.paths[path]
            before = meter.read()
            latencies, wall = hey_at_rate(url, token, count)
            after = meter.read()
            app_cpu, front_cpu, proxy_cpu = (
                1e6 * (a - b) / count for a, b in zip(after, before, strict=True)
            )
            numbers.app_cpu_us.append(app_cpu)
            numbers.front_cpu_us.append(front_cpu)
            numbers.proxy_cpu_us.append(proxy_cpu)
            numbers.rate_p50_ms.append(statistics.median(latencies))
            numbers.rate_p99_ms.append(statistics.quantiles(latencies, n=100)[98])
            numbers.rate_rps.append(count / wall)
            saturated = wrk(url, token, seconds)
            numbers.saturated_p50_ms.append(saturated["p50_us"] / 1000)
            numbers.saturated_p99_ms.append(saturated["p99_us"] / 1000)
            numbers.saturated_rps.append(saturated["requests"] / (saturated["duration_us"] / 1e6))
    for path, numbers in result.paths.items():
        print(
            f"  authorize {path}: at {result.rate_per_s}/s p50 {_ms(numbers.rate_p50_ms)} ms, "
            f"CPU/request app {_ms(numbers.app_cpu_us, 0)} us, front {_ms(numbers.front_cpu_us, 0)} us, "
            f"docker-proxy {_ms(numbers.proxy_cpu_us, 0)} us; wrk -c {LATENCY_CONNECTIONS} p50 "
            f"{_ms(numbers.saturated_p50_ms)} ms, {_ms(numbers.saturated_rps, 0)} req/s"
        )
    print(f"  the front adds {result.added_p50_ms():+.2f} ms at p50 at {result.rate_per_s} req/s")
    return result


def bench_front(base_image: str, runs: int, cleanup: Cleanup) -> FrontResult:
    tag = f"microservice-model-bench/front:{uuid.uuid4().hex[:8]}"
    front_image = build_front_image(tag, labels_for("bench-front")).id
    cleanup.images.append(tag)
    none, images, _ = stack_redeploys("none", base_image, front_image, runs, cleanup)
    old = old_script_redeploys(images, base_image, runs, cleanup)
    nginx, _, latency = stack_redeploys("nginx", base_image, front_image, runs, cleanup)
    return FrontResult([old, none, nginx], latency)


def _ms(values: list[float], digits: int = 2) -> str:
    return f"{statistics.median(values):.{digits}f}"


def front_tables(result: FrontResult) -> list[str]:
    from bench.report import table

    rows = [
        [o.method, o.redeploys, sum(o.requests), sum(o.failed), _ms(o.outage_s), f"{max(o.outage_s):.2f}",
         _ms(o.wall_s, 1)]
        for o in result.outages
    ]  # fmt: skip
    header = ["method", "redeploys", "requests", "failed", "outage s (median)", "outage s (max)", "ready s"]
    lines = [table(header, rows)]
    latency = result.latency
    if latency is not None:
        names = {
            "direct": "straight to the app container",
            "front": "to the front container",
            "published": "through the front's published port",
        }
        rows = [
            [names[path], _ms(n.rate_p50_ms), _ms(n.rate_p99_ms), _ms(n.rate_rps, 0), _ms(n.app_cpu_us, 0),
             _ms(n.front_cpu_us, 0), _ms(n.proxy_cpu_us, 0), _ms(n.saturated_p50_ms),
             _ms(n.saturated_rps, 0)]
            for path, n in latency.paths.items()
        ]  # fmt: skip
        header = [
            f"authorize, {latency.connections} clients",
            f"p50 ms at {latency.rate_per_s}/s",
            "p99 ms",
            "req/s",
            "app CPU µs/req",
            "front CPU µs/req",
            "docker-proxy CPU µs/req",
            f"p50 ms, wrk -c {latency.connections}",
            "req/s, wrk",
        ]
        lines.append(table(header, rows))
        added = latency.added_p50_ms()
        verdict = "within" if added <= BUDGET_MS else "OVER"
        lines.append(
            f"At {latency.rate_per_s} req/s the front adds {added:+.2f} ms at p50 ({verdict} the budget of "
            f"+{BUDGET_MS:.0f} ms); the published port adds {latency.added_p50_ms('published'):+.2f} ms."
        )
    return lines
