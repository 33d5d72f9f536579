"""Fixtures for the image tests: a Docker client, host log dirs, and containers that are always removed.

Everything created here is labelled (tests.support.images.labels_for("image")) and removed in
teardown by its own name or id, also when a test fails.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from tests.support.containers import PortBusyError, make_host_dir_for_service
from tests.support.images import BuiltImage, build, docker_client, labels_for, remove_built_image

AREA = "image"


@pytest.fixture(scope="session")
def docker_api(docker_engine: None) -> Iterator[Any]:
    """Docker SDK client for the local engine."""
    client = docker_client()
    yield client
    client.close()


@pytest.fixture(scope="module")
def make_tmp_dir() -> Iterator[Callable[[str], Path]]:
    """Host temp dirs (removed at module end); names say they belong to these tests."""
    made: list[Path] = []

    def make(purpose: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=f"microservice-model-test-{AREA}-{purpose}-"))
        made.append(path)
        return path

    yield make
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def make_log_dir(make_tmp_dir: Callable[[str], Path]) -> Callable[[], Path]:
    """A host log dir owned by UID/GID 10001, as a deploy must prepare it for the bind mount."""
    return lambda: make_host_dir_for_service(make_tmp_dir("logs"))


@pytest.fixture(scope="module")
def run_container(docker_api: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Start a labelled, uniquely named container (docker SDK `containers.create` options); removed later."""
    started: list[Any] = []

    def run(image: str, **options: Any) -> Any:
        name = f"microservice.model-test-{request.module.__name__.rsplit('.', 1)[-1]}-{uuid.uuid4().hex[:8]}"
        options.setdefault("labels", {}).update(labels_for(AREA))
        # create, then start: a container whose start fails (e.g. port taken) is still removed below.
        container = docker_api.containers.create(image, name=name, **options)
        started.append(container)
        try:
            container.start()
        except docker.errors.APIError as error:
            if "port is already allocated" in str(error) or "address already in use" in str(error):
                raise PortBusyError(f"{name} could not publish its port: {error.explanation}") from None
            raise
        return container

    yield run
    for container in started:
        try:
            container.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass


@pytest.fixture(scope="module")
def build_image_from(docker_api: Any, session_base_image: str) -> Iterator[Callable[..., BuiltImage]]:
    """Build a context into a labelled, uniquely tagged image; removed at module end."""
    built_images: list[BuiltImage] = []

    def build_from(context: Path, **options: Any) -> BuiltImage:
        tag = f"microservice-model-test/{AREA}:{uuid.uuid4().hex[:12]}"
        built = build(context, session_base_image, tag, labels_for(AREA), client=docker_api, **options)
        built_images.append(built)
        return built

    yield build_from
    for built in reversed(built_images):
        remove_built_image(built, client=docker_api)
