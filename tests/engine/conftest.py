"""Fixtures for the real-engine tests: the tools scripts/engine-tools.sh built, and the prod stack run
through them once (preview, up, a second up, destroy), shared by the tests that read what happened."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support.engine import EngineProject, EngineRun, EngineTools, engine_tools
from tests.support.stack_config import TEST_SECRET_KEY

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED = REPO_ROOT / "docs" / "manifests" / "prod.yaml"


def documented_image() -> str:
    """The image docs/manifests/prod.yaml deploys (the mocks' digest: it moves with the build inputs)."""
    for doc in yaml.safe_load_all(DOCUMENTED.read_text()):
        if doc and doc["kind"] == "Deployment":
            return str(doc["spec"]["template"]["spec"]["containers"][0]["image"])
    raise AssertionError(f"{DOCUMENTED} has no Deployment")


# `imageRef` pinned to the digest docs/manifests/prod.yaml shows, so nothing is built (no docker
# provider needed) and the image fields of both renders agree.
IMAGE_REF = documented_image()
# What an operator sets with `pulumi config set --secret` before the first `pulumi up -s prod`.
PROD_SECRETS = {
    "microservice-model:databaseUrl": "postgresql+psycopg://model:db-password-123@db.internal:5432/model",
    "microservice-model:secretKey": TEST_SECRET_KEY,
    "microservice-model:registryPassword": "registry-token-456",
}
PROD_CONFIG = {"microservice-model:imageRef": IMAGE_REF}


@pytest.fixture(scope="session")
def tools() -> EngineTools:
    return engine_tools()


@dataclass
class RenderedLifecycle:
    """The prod stack through the real engine and provider in render mode, one operation after another."""

    preview: EngineRun
    up: EngineRun
    rendered: dict[str, str]  # file name (relative to the render dir) -> YAML, right after `up`
    second_up: EngineRun
    destroy: EngineRun
    left_after_destroy: list[str]


@pytest.fixture(scope="session")
def rendered_prod(
    tools: EngineTools, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RenderedLifecycle]:
    project = EngineProject(tools, "prod")
    try:
        preview = project.run("preview", config=PROD_CONFIG, secrets=PROD_SECRETS)
        up = project.run("up")
        snapshot = tmp_path_factory.mktemp("rendered")
        rendered = {}
        for path in project.rendered_files():
            name = str(path.relative_to(project.render_dir))
            rendered[name] = path.read_text()
            shutil.copy2(path, snapshot / name.replace("/", "__"))
        second_up = project.run("up")
        destroy = project.run("destroy")
        left = [str(p.relative_to(project.render_dir)) for p in project.rendered_files()]
        yield RenderedLifecycle(preview, up, rendered, second_up, destroy, left)
    finally:
        project.cleanup()


@pytest.fixture(scope="session")
def rendered_dir(rendered_prod: RenderedLifecycle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The manifests `up` wrote, as files (for the kubernetes-validate CLI)."""
    target = tmp_path_factory.mktemp("manifests")
    for name, text in rendered_prod.rendered.items():
        (target / name.replace("/", "__")).write_text(text)
    return target
