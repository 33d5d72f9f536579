"""app/Dockerfile builds with both builders: BuildKit (what the program declares) and the classic one.

BuildKit is reached as pulumi-docker's BuilderBuildKit reaches it: the engine's built-in BuildKit over
the API (`POST /build?version=2`, tests/support/docker_engine/buildkit.py). `DOCKER_BUILDKIT=1 docker
build` does not work on this machine: Debian's docker.io 20.10 CLI hands BuildKit builds to the buildx
plugin, which is not installed ("BuildKit is enabled but the buildx component is missing or broken");
the daemon itself builds with BuildKit fine, and the provider never uses the CLI.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from components.contract import APP_UID, HEALTHCHECK, SERVICE_PORT
from components.image import BUILD_CONTEXT, BUILDER
from tests.support.docker_engine import buildkit


@pytest.fixture(scope="module", params=[buildkit.BUILDKIT, buildkit.CLASSIC])
def built(request: pytest.FixtureRequest, docker_api: Any, base_image: str, repo_root: Path) -> Iterator[Any]:
    """app/ built with one builder, as the program builds it (build args, target); removed afterwards."""
    tag = f"microservice.model:builders-{request.param.lower()}-{uuid.uuid4().hex[:8]}"
    image_id = buildkit.build(
        docker_api.api,
        repo_root / BUILD_CONTEXT,
        "Dockerfile",
        request.param,
        tag=tag,
        buildargs={"BASE_IMAGE": base_image, "PIP_INDEX_URL": ""},
        target="runtime",
    )
    yield docker_api.images.get(image_id)
    try:
        docker_api.images.remove(tag)
    except docker.errors.APIError:
        pass  # in use by another test's container, or already gone


def test_the_program_builds_with_buildkit() -> None:
    assert BUILDER.value == buildkit.BUILDKIT


def test_image_meets_the_contract_with_either_builder(built: Any) -> None:
    config = built.attrs["Config"]
    assert config["User"] == f"{APP_UID}:{APP_UID}"
    assert f"{SERVICE_PORT}/tcp" in config["ExposedPorts"]
    assert config["Healthcheck"]["Test"] == ["CMD", *HEALTHCHECK]
    assert config["Cmd"] == ["gunicorn", "--config", "/app/gunicorn.conf.py"]
    assert config["Labels"]["org.opencontainers.image.title"] == "microservice.model"


def test_image_runs_the_service_code_with_either_builder(built: Any, docker_api: Any) -> None:
    script = "import flask, gunicorn, service; print('imports ok')"
    output = docker_api.containers.run(
        built.id, ["python", "-c", script], remove=True, network_disabled=True, user=f"{APP_UID}:{APP_UID}"
    )
    assert output.decode().strip() == "imports ok"
