"""Section 6 (issue 13): the front proxy on the docker target.

1. Requests lost per code-change redeploy, under the same steady load (8 keep-alive clients GETting
   /readyz and /healthz on 127.0.0.1, nothing retried by the client), for:
   - the old online.sh sequence (docker stop, rm, run -p, exec flask db upgrade) on images the stack built;
   - the test stack with frontProxy none (one published container, replaced delete-first);
   - the test stack with frontProxy nginx (the front on the port; app containers created before the old
     one is deleted).
   The stacks run through tests/deploy's harness, on a bench port, suffix and log dir of their own.
2. The latency the front adds on the authorize endpoint: wrk at a moderate load (4 connections), POST
   /api/v1/authorize through the front (127.0.0.1:port) and straight to the app container (its address
   on the stack's network), interleaved; the budget is p50 + 1 ms.
"""

from __future__ import annotations

import json
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

from bench.common import BenchError, Cleanup, run, wait_for_status
from bench.deploy_bench import copy_project, log_dir
from bench.image_bench import one_line_change
from bench.serving_bench import ADMIN_PASSWORD, ADMIN_USER, AUTHORIZE_BODY, WRK_SCRIPT, free_port
from tests.support.docker_engine.deployer import StackDeployer
from tests.support.docker_engine.load import SteadyLoad
from tests.support.images import build_front_image, labels_for

CLIENTS = 8
LATENCY_CONNECTIONS = 4
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
class FrontLatency:
    connections: int
    direct_p50_ms: list[float] = field(default_factory=list)
    front_p50_ms: list[float] = field(default_factory=list)
    direct_p99_ms: list[float] = field(default_factory=list)
    front_p99_ms: list[float] = field(default_factory=list)
    direct_rps: list[float] = field(default_factory=list)
    front_rps: list[float] = field(default_factory=list)

    @property
    def added_p50_ms(self) -> float:
        return statistics.median(self.front_p50_ms) - statistics.median(self.direct_p50_ms)


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
            latency = front_latency(port, exports["containerName"], runs)
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


def front_latency(port: int, app_container: str, runs: int) -> FrontLatency:
    """authorize through the front and straight to the app container, interleaved, `runs`+1 rounds."""
    container = docker.from_env().containers.get(app_container)
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
    address = next(iter(container.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
    urls = {
        "front": f"http://127.0.0.1:{port}/api/v1/authorize",
        "direct": f"http://{address}:8000/api/v1/authorize",
    }
    seconds = 5 if runs > 1 else 3
    result = FrontLatency(LATENCY_CONNECTIONS)
    wrk(urls["front"], token, 1)  # warm both paths
    wrk(urls["direct"], token, 1)
    for _ in range(runs + 1):
        for path in ("direct", "front"):
            numbers = wrk(urls[path], token, seconds)
            getattr(result, f"{path}_p50_ms").append(numbers["p50_us"] / 1000)
            getattr(result, f"{path}_p99_ms").append(numbers["p99_us"] / 1000)
            getattr(result, f"{path}_rps").append(numbers["requests"] / (numbers["duration_us"] / 1e6))
    print(
        f"  authorize at {LATENCY_CONNECTIONS} connections: p50 direct "
        f"{statistics.median(result.direct_p50_ms):.2f} ms, through the front "
        f"{statistics.median(result.front_p50_ms):.2f} ms (+{result.added_p50_ms:.2f} ms)"
    )
    return result


def bench_front(base_image: str, runs: int, cleanup: Cleanup) -> FrontResult:
    tag = f"microservice-model-bench/front:{uuid.uuid4().hex[:8]}"
    front_image = build_front_image(base_image, tag, labels_for("bench-front")).id
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
        verdict = "within" if latency.added_p50_ms <= BUDGET_MS else "OVER"
        direct = ["straight to the app container", _ms(latency.direct_p50_ms), _ms(latency.direct_p99_ms)]
        front = ["through the front", _ms(latency.front_p50_ms), _ms(latency.front_p99_ms)]
        direct.append(_ms(latency.direct_rps, 0))
        front.append(_ms(latency.front_rps, 0))
        lines.append(table(["authorize, wrk -c 4", "p50 ms", "p99 ms", "req/s"], [direct, front]))
        lines.append(
            f"The front adds {latency.added_p50_ms:+.2f} ms at p50 "
            f"({verdict} the budget of +{BUDGET_MS:.0f} ms)."
        )
    return lines
