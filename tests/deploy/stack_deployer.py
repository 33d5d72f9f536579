"""Run the test stack's real program against the local engine and clean up after it (docs/live-deploy.md)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from docker_mocks import HARNESS_LABEL  # noqa: E402

STACK = "test"
HOST_PORT = 8083  # the test stack's hostPort (Pulumi.test.yaml)
LOG_DIR = Path("/tmp/data/test/logs")  # the test stack's log dir (Pulumi.test.yaml)
CONTAINER_TYPE = "docker:index/container:Container"
COMMAND_TYPE = "command:local:Command"
IMAGE_TYPE = "docker:index/image:Image"
VOLUME_TYPE = "docker:index/volume:Volume"


class HarnessFailure(RuntimeError):
    """run_stack.py itself crashed (not the program): a bug in the harness."""


@dataclass
class StackRun:
    """What one run of the program did: its steps in order, its exports, its error."""

    error: str | None
    traceback: str | None
    exports: dict[str, Any]
    events: list[dict[str, Any]]
    built_images: list[dict[str, str]]
    resources: dict[str, dict[str, Any]]  # URN -> type, id, inputs, outputs (the state after the run)
    seconds: float

    def steps(self, resource_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == resource_type]

    def step(self, resource_type: str) -> dict[str, Any]:
        steps = self.steps(resource_type)
        assert len(steps) == 1, f"expected one {resource_type} step, got {steps}"
        return steps[0]


@dataclass
class StackDeployer:
    """Runs `pulumi up` of the test stack (program + config of `project_dir`) against the local engine."""

    project_dir: Path
    workdir: Path
    base_image: str
    run_label: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    runs: list[StackRun] = field(default_factory=list)

    def up(
        self, config: dict[str, Any] | None = None, secrets: dict[str, str] | None = None, **options: Any
    ) -> StackRun:
        spec = {
            "project_dir": str(self.project_dir),
            "stack": STACK,
            "config": {"baseImage": self.base_image, **(config or {})},
            "secrets": secrets or {},
            "run_label": self.run_label,
            "state_file": str(self.workdir / "state.json"),
            "result_file": str(self.workdir / f"result-{len(self.runs)}.json"),
            **options,
        }
        spec_file = self.workdir / f"spec-{len(self.runs)}.json"
        spec_file.write_text(json.dumps(spec))
        started = time.monotonic()
        process = subprocess.run(
            [sys.executable, str(HERE / "run_stack.py"), str(spec_file)],
            capture_output=True,
            text=True,
            check=False,
            timeout=1200,
        )
        seconds = time.monotonic() - started
        result_file = Path(spec["result_file"])
        if process.returncode != 0 or not result_file.exists():
            raise HarnessFailure(
                f"the harness itself failed (exit {process.returncode}):\n{process.stderr[-5000:]}"
            )
        result = json.loads(result_file.read_text())
        run = StackRun(seconds=seconds, **result)
        self.runs.append(run)
        return run

    def cleanup(self) -> None:
        """Remove what this deployer's runs created: labelled objects, leftovers of the program's
        one-shot containers, and the log files written into the stack's log dir."""
        client = docker.from_env()
        label = f"{HARNESS_LABEL}={self.run_label}"
        image_ids = {image["id"] for run in self.runs for image in run.built_images}
        containers = client.containers.list(all=True, filters={"label": label})
        for image_id in image_ids:
            containers += client.containers.list(all=True, filters={"ancestor": image_id})
        for container in containers:
            try:
                container.remove(force=True, v=True)
            except docker.errors.NotFound:
                pass
        for network in client.networks.list(filters={"label": label}):
            network.remove()
        for volume in client.volumes.list(filters={"label": label}):
            volume.remove(force=True)
