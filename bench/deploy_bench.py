"""Section 3: redeploy after a one-line code change, the old online.sh sequence vs the test stack.

"Healthy" means GET /readyz answers 200 (the process serves, the database answers and its schema is
at the migration head). A probe thread asks it every 50 ms during each redeploy; the seconds it
failed are the seconds a client of the service would have seen errors.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, BenchError, Cleanup, Spread, http_status, label_args, run, wait_for_status
from bench.image_bench import make_context, one_line_change
from bench.serving_bench import free_port

PROBE_INTERVAL_S = 0.05
APP_UID = 10001  # docs/contract.md: the shipped image's user must be able to write the log dir


@dataclass
class DeployResult:
    method: str
    wall_s: Spread  # start of the deploy until /readyz answers 200
    failed_s: Spread  # seconds of failing probes during the deploy
    notes: str = ""


@dataclass
class Probe:
    """GET /readyz every 50 ms in a thread; remembers when each probe started and whether it got 200."""

    url: str
    samples: list[tuple[float, bool]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            self.samples.append((started, http_status(self.url, timeout=1.0) == 200))
            self._stop.wait(max(0.0, PROBE_INTERVAL_S - (time.perf_counter() - started)))

    def stop(self) -> float:
        """Stop probing; return the seconds during which probes failed (each failure lasts until the
        next probe starts, so a probe stuck for its 1 s timeout counts as 1 s, not 50 ms)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        failed = 0.0
        for (started, ok), (next_started, _) in zip(self.samples, self.samples[1:], strict=False):
            if not ok:
                failed += next_started - started
        return failed


def measured(url: str, deploy: Any) -> tuple[float, float]:
    """Run deploy() under the probe; return (seconds until /readyz is 200 after it, failing seconds)."""
    probe = Probe(url)
    probe.start()
    started = time.perf_counter()
    try:
        deploy()
        wait_for_status(url, timeout=120)
        wall = time.perf_counter() - started
        time.sleep(0.5)  # a few good probes after the switch, so a late failure would show
    finally:
        failed = probe.stop()
    return wall, failed


def log_dir(cleanup: Cleanup) -> Path:
    path = Path(tempfile.mkdtemp(prefix="bench-deploy-logs-"))
    shutil.chown(path, APP_UID, APP_UID)
    cleanup.paths.append(path)
    return path


def old_script(kind: str, base_image: str, runs: int, cleanup: Cleanup) -> DeployResult:
    """online.sh's sequence: rmi, build, stop, rm, run -dit -p, exec db upgrade (on `kind` image)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-deploy-"))
    cleanup.paths.append(tmp)
    context, dockerfile = make_context(kind, tmp)
    port = free_port()
    image = f"microservice-model-bench/old-script-{kind}:test"
    container = f"microservice.model-bench-{uuid.uuid4().hex[:8]}"
    logs = log_dir(cleanup)
    build = [
        "docker",
        "build",
        "-q",
        "-f",
        str(dockerfile),
        "-t",
        image,
        "--build-arg",
        f"BASE_IMAGE={base_image}",
    ]
    build += [*label_args("deploy"), str(context)]
    docker_run = ["docker", "run", "-dit", "-p", f"127.0.0.1:{port}:8000", "--name", container]
    docker_run += ["-v", f"{logs}:/app/logs", "-e", "RUNTIME_ENV=test", *label_args("deploy"), image]
    # The seed image sets no FLASK_APP (the old one ran `python manage.py db upgrade`).
    upgrade = ["docker", "exec", "-e", "FLASK_APP=service", container, "flask", "db", "upgrade"]

    steps: dict[str, list[float]] = {}

    def step(name: str, cmd: list[str], check: bool = True) -> None:
        started = time.perf_counter()
        run(cmd, check=check)
        steps.setdefault(name, []).append(time.perf_counter() - started)

    def deploy() -> None:
        # As online.sh: rmi fails while the old container still uses the image, and it carries on.
        step("rmi", ["docker", "rmi", image], check=False)
        step("build", build)
        cleanup.images.append(run(["docker", "image", "inspect", "-f", "{{.Id}}", image]).stdout.strip())
        step("stop", ["docker", "stop", container], check=False)  # the first deploy has nothing to stop
        step("rm", ["docker", "rm", container], check=False)
        step("run", docker_run)
        step("exec db upgrade", upgrade)

    cleanup.containers.append(container)
    cleanup.images.append(image)
    url = f"http://127.0.0.1:{port}/readyz"
    one_line_change(context)  # an image ID of its own (see pulumi_stack)
    deploy()  # the version that is live before the measured code changes
    wait_for_status(url, timeout=120)
    walls, fails = [], []
    for index in range(runs):
        one_line_change(context)
        wall, failed = measured(url, deploy)
        walls.append(wall)
        fails.append(failed)
        print(
            f"  deploy old script ({kind}) run {index + 1}/{runs}: "
            f"{wall:.1f} s to ready, {failed:.2f} s failing"
        )
    # Median per step over the measured runs (the first, unmeasured deploy left out).
    notes = ", ".join(f"{name} {Spread(times[1:]).median:.1f} s" for name, times in steps.items())
    return DeployResult(f"old online.sh sequence, {kind} image", Spread(walls), Spread(fails), notes)


def copy_project(dest: Path) -> Path:
    """The repository without virtualenv, git and caches: the harness builds from this copy, so the
    one-line change never touches the shared work tree."""
    ignore = shutil.ignore_patterns(
        ".venv", ".git", "__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache", ".ruff_cache", "results"
    )
    project = dest / "project"
    shutil.copytree(REPO_ROOT, project, ignore=ignore, symlinks=True)
    return project


def pulumi_stack(base_image: str, runs: int, cleanup: Cleanup) -> DeployResult:
    """The test stack through tests/deploy's harness (the real program, its resources carried out on
    the local engine by the harness's mocks), published on a bench port on 127.0.0.1."""
    from tests.support.docker_engine.deployer import StackDeployer  # the live deploy tests' harness

    tmp = Path(tempfile.mkdtemp(prefix="bench-deploy-stack-"))
    cleanup.paths.append(tmp)
    project = copy_project(tmp)
    port = free_port()
    config = {
        "hostPort": port,
        "hostIp": "127.0.0.1",
        "containerSuffix": f"bench-{uuid.uuid4().hex[:6]}",
        "logDir": str(log_dir(cleanup)),
        "imageRepository": "microservice-model-bench/stack",
    }
    (tmp / "work").mkdir()
    deployer = StackDeployer(project_dir=project, workdir=tmp / "work", base_image=base_image)
    url = f"http://127.0.0.1:{port}/readyz"

    steps: dict[str, list[float]] = {}

    def deploy() -> None:
        result = deployer.up(config=config)
        cleanup.images.extend(image["id"] for image in result.built_images)
        if result.error:
            raise BenchError(f"the test-stack deploy failed: {result.error}\n{result.traceback}")
        for event in result.events:
            if event["action"] != "same" and event["finished"]:
                key = f"{event['name']} ({event['action']})"
                steps.setdefault(key, []).append(event["finished"] - event["started"])

    # A change before the first deploy too: the image must differ from any other suite's (same
    # content means the same image ID, and their cleanup removes containers by image ancestry).
    one_line_change(project / "app")
    walls, fails = [], []
    try:
        deploy()
        wait_for_status(url, timeout=120)
        for index in range(runs):
            one_line_change(project / "app")
            wall, failed = measured(url, deploy)
            walls.append(wall)
            fails.append(failed)
            print(
                f"  deploy test stack run {index + 1}/{runs}: {wall:.1f} s to ready, {failed:.2f} s failing"
            )
    finally:
        deployer.cleanup()
    # Steps that changed in the measured redeploys (the first deploy's creates left out).
    notes = ", ".join(
        f"{name} {Spread(times[-runs:]).median:.1f} s"
        for name, times in steps.items()
        if "(create)" not in name or len(times) > runs
    )
    method = "Pulumi test stack (tests/deploy harness), shipped image"
    return DeployResult(method, Spread(walls), Spread(fails), notes)


def bench_deploy(base_image: str, runs: int, cleanup: Cleanup, quick: bool = False) -> list[DeployResult]:
    # --quick leaves out the seed-style image here (section 1 already builds it): it is the slow one.
    kinds = ("shipped",) if quick else ("seed-style", "shipped")
    results = [old_script(kind, base_image, runs, cleanup) for kind in kinds]
    cleanup.remove_all()  # free the old containers before the stack deploys
    results.append(pulumi_stack(base_image, runs, cleanup))
    return results
