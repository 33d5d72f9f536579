"""Run the test stack's real program against the local engine and clean up after it (docs/live-deploy.md).

`StackDeployer.up()` runs the program once, like `pulumi up -s test`, in a fresh process
(run_stack.py), with the stack's real config; everything a deployer created carries the label
microservice-model.deploy-test=<run id> and is removed by `cleanup()`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors

from tests.support.docker_engine.declared import HARNESS_LABEL
from tests.support.docker_engine.ports import wait_for_host_port_free
from tests.support.stack_config import REPO_ROOT, stack_file_config

STACK = "test"
HOST_PORT = int(stack_file_config(STACK)["hostPort"])  # what the test stack publishes (8083)
BASE_URL = f"http://127.0.0.1:{HOST_PORT}"
LOG_DIR = Path(stack_file_config(STACK)["logDir"])  # the test stack's host log dir


# What the Pulumi program is made of: a redeploy with a code change runs from a copy of these, so the
# change never touches the shared work tree.
PROGRAM_FILES = ["Pulumi.yaml", "Pulumi.test.yaml", "__main__.py", "components", "app"]


def copy_program(target: Path, source_root: Path = REPO_ROOT) -> Path:
    """Copy the program's files from `source_root` into the new directory `target`; return `target`."""
    target.mkdir()
    for name in PROGRAM_FILES:
        source = source_root / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target / name)
    return target


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
    # The nginx image for frontProxy nginx (a local image ID; the official one cannot be pulled here).
    # None: the deployer runs the stack with frontProxy none, today's single published container.
    front_image: str | None = None
    run_label: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    runs: list[StackRun] = field(default_factory=list)

    def up(
        self,
        config: dict[str, Any] | None = None,
        secrets: dict[str, str] | None = None,
        wait_for_port: bool = True,  # False: a test holds the port on purpose
        **options: Any,
    ) -> StackRun:
        if wait_for_port:
            wait_for_port_8083_free(own_label=self.run_label)
        options.setdefault("wait_for_port", wait_for_port)
        spec = {
            "project_dir": str(self.project_dir),
            "stack": STACK,
            "config": {"baseImage": self.base_image, **self.front_config(), **(config or {})},
            "secrets": secrets or {},
            "run_label": self.run_label,
            "state_file": str(self.workdir / "state.json"),
            "result_file": str(self.workdir / f"result-{len(self.runs)}.json"),
            **options,
        }
        spec_file = self.workdir / f"spec-{len(self.runs)}.json"
        spec_file.write_text(json.dumps(spec))
        started = time.monotonic()
        # As Pulumi runs a program: from its directory, with that directory first on the path (the
        # harness itself comes from the repository, after it).
        path = os.pathsep.join([str(self.project_dir), str(REPO_ROOT)])
        process = subprocess.run(
            [sys.executable, "-m", "tests.support.docker_engine.run_stack", str(spec_file)],
            cwd=self.project_dir,
            env={**os.environ, "PYTHONPATH": path},
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

    def front_config(self) -> dict[str, str]:
        if self.front_image is None:
            return {"frontProxy": "none"}
        return {"frontProxy": "nginx", "frontImage": self.front_image}

    def cleanup(self) -> None:
        """Remove what this deployer's runs created: labelled containers, networks and volumes, and
        leftovers of the program's one-shot containers (images: `remove_images`; logs: `restored_log_dir`)."""
        client = docker.from_env()
        label = f"{HARNESS_LABEL}={self.run_label}"
        image_ids = {image["id"] for run in self.runs for image in run.built_images}
        containers = client.containers.list(all=True, filters={"label": label})
        for image_id in image_ids:
            # The program's one-shot containers (`docker run --rm`, so normally gone). Only those the
            # program labelled: another suite may run a container of an identical image (same ID).
            program_made = {"ancestor": image_id, "label": "app.kubernetes.io/managed-by=pulumi"}
            one_shots = client.containers.list(all=True, filters=program_made)
            containers += [c for c in one_shots if HARNESS_LABEL not in c.labels]  # not a service container
        for container in containers:
            try:
                container.remove(force=True, v=True)
            except docker.errors.NotFound:
                pass
        for network in client.networks.list(filters={"label": label}):
            network.remove()
        for volume in client.volumes.list(filters={"label": label}):
            volume.remove(force=True)


def wait_for_port_8083_free(own_label: str | None = None) -> None:
    """The stack publishes 8083; other suites may too: wait for it (ports.py)."""
    wait_for_host_port_free(HOST_PORT, own_label)


# Every deploy of the test stack uses the same network, volume, container names and host port, whoever
# runs it (several suites share this engine): one deployer's life at a time, across processes.
LOCK_FILE = Path(tempfile.gettempdir()) / "microservice-model-deploy-harness.lock"
_held = 0  # deployers of this process holding the lock (a test may use two at once)


@contextlib.contextmanager
def deploy_lock(timeout: float = 3600) -> Iterator[None]:
    """Hold the machine-wide deploy lock (re-entrant within this process); fail after `timeout`."""
    global _held
    handle = None
    if _held == 0:
        handle = LOCK_FILE.open("a")
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    handle.close()
                    raise AssertionError(f"another deploy test held {LOCK_FILE} for {timeout:.0f}s") from None
                time.sleep(0.5)
    _held += 1
    try:
        yield
    finally:
        _held -= 1
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()


def make_deployer(
    project_dir: Path,
    workdir: Path,
    base_image: str,
    deploy_images: list[dict[str, str]],
    front_image: str | None = None,
) -> Iterator[StackDeployer]:
    with deploy_lock():
        wait_for_port_8083_free()
        deployer = StackDeployer(
            project_dir=project_dir, workdir=workdir, base_image=base_image, front_image=front_image
        )
        try:
            yield deployer
        finally:
            deployer.cleanup()
            deploy_images.extend(i for run in deployer.runs for i in run.built_images)


def remove_images(built: list[dict[str, str]]) -> None:
    """Remove the images the runs built: the tag if it still points at what we built, and an
    earlier build that a later one left untagged. An image someone else tagged or runs stays."""
    client = docker.from_env()
    for name, image_id in {(i["name"], i["id"]) for i in built}:
        try:
            image = client.images.get(image_id)
            if name in image.tags:
                client.images.remove(name)
            elif not image.tags:
                client.images.remove(image_id)
        except docker.errors.APIError:
            pass  # gone already, or in use by someone else's container: leave it


@contextlib.contextmanager
def restored_log_dir() -> Iterator[None]:
    """Put the stack's host log dir back as it was: remove what the runs added to it."""
    created = next((p for p in (LOG_DIR.parent.parent, LOG_DIR.parent, LOG_DIR) if not p.exists()), None)
    before = set(LOG_DIR.iterdir()) if created is None else set()
    try:
        yield
    finally:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        else:
            for path in set(LOG_DIR.iterdir()) - before:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
