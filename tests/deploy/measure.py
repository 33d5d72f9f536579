"""Measure the test stack's deploy on the local engine (numbers for docs/live-deploy.md; not a test).

    .venv/bin/python -m tests.deploy.measure

1. cold deploy: no build cache for the image (build_no_cache), new network, volume and container;
2. warm deploy: the same from scratch, but the engine's build cache is there;
3. code-change redeploy on top of 2, with GET /healthz on 8083 every 50 ms from a thread.
Times are wall clock from the start of the program run to its end; the program ends when the
container is healthy (wait=True), so that is "start to healthy". Everything is removed at the end.
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from pathlib import Path

from tests.support.docker_engine.deployer import (
    BASE_URL,
    StackDeployer,
    StackRun,
    copy_program,
    make_deployer,
    remove_images,
    restored_log_dir,
)
from tests.support.docker_engine.probing import Prober
from tests.support.resource_types import CONTAINER, IMAGE
from tests.support.scripts import run_script


def base_image() -> str:
    run_script("dockerd-up.sh")
    return run_script("base-image.sh")


def report(label: str, run: StackRun, prober: Prober | None = None) -> None:
    if run.error:
        sys.exit(f"{label} failed: {run.error}")
    image = run.step(IMAGE)
    container = run.step(CONTAINER)
    first_ok = next((t for t, ok in prober.probes if ok), None) if prober else None
    print(f"{label}: {run.seconds:.1f}s start to healthy")
    print(f"  image build {image['finished'] - image['started']:.1f}s ({image['action']})")
    print(f"  container {container['finished'] - container['started']:.1f}s ({container['action']})")
    if container["detail"]:
        print(f"  {container['detail']}")
    if prober is not None:
        print(
            f"  probes every 50 ms: {prober.failed} of {len(prober.probes)} failed, "
            f"requests to 8083 failed for {prober.outage_seconds():.2f}s"
        )
        if first_ok is not None:
            print(f"  first 200 at +{first_ok - prober.probes[0][0]:.1f}s after the run started")


def main() -> None:
    image = base_image()
    images: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp, restored_log_dir():
        work = Path(tmp)
        for label, no_cache in (("cold deploy", True), ("warm deploy", False)):
            program = copy_program(work / f"program-{label.split()[0]}")
            runs = work / f"runs-{label.split()[0]}"
            runs.mkdir()
            for deployer in make_deployer(program, runs, image, images):
                first = deployer.up(build_no_cache=no_cache)
                report(label, first)
                if label == "warm deploy":
                    redeploy(deployer, program)
                time.sleep(1)
    remove_images(images)
    print("removed everything the runs created")


def redeploy(deployer: StackDeployer, program: Path) -> None:
    health = program / "app/service/health.py"
    source = health.read_text()
    body = 'return {"status": "ok"}'
    assert source.count(body) == 1, f"{health} changed shape; update measure.py"
    health.write_text(source.replace(body, f'return {{"status": "ok", "marker": "{uuid.uuid4().hex}"}}'))
    with Prober(f"{BASE_URL}/healthz") as prober:
        run = deployer.up()
        time.sleep(1)
    report("code-change redeploy", run, prober)


if __name__ == "__main__":
    main()
