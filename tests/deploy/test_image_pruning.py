"""docs/operations.md's image pruning, run exactly as written on the real engine.

`pulumi up` never removes an image (the provider's image delete does nothing), so operators prune. The
block keeps the newest `keep` images carrying the service's title label and removes the rest, never by
force: an image a container uses stays. Here it runs on images of a title label of its own, so it
touches nothing but what the test built.
"""

from __future__ import annotations

import io
import re
import subprocess
import time
import uuid
from collections.abc import Iterator

import docker
import docker.errors
import pytest

from tests.support.stack_config import REPO_ROOT

OPERATIONS = REPO_ROOT / "docs/operations.md"
BLOCK = re.compile(r"<!-- prune-images:start -->\n```sh\n(.*?)```\n<!-- prune-images:end -->", re.DOTALL)


def documented_command(keep: int, title: str) -> str:
    [script] = BLOCK.findall(OPERATIONS.read_text())
    script, kept = re.subn(r"^keep=\d+ ", f"keep={keep} ", script, flags=re.MULTILINE)
    script, titled = re.subn(r"^title=\S+ ", f"title={title} ", script, flags=re.MULTILINE)
    assert kept == titled == 1, "the documented block must set keep= and title= on their own lines"
    return script


@pytest.fixture
def title(docker_engine: None) -> Iterator[str]:
    """A title label of this test's own; every image and container carrying it is removed afterwards."""
    title = f"prune-test-{uuid.uuid4().hex[:8]}"
    yield title
    client = docker.from_env()
    for container in client.containers.list(all=True, filters={"label": f"prune-test={title}"}):
        container.remove(force=True)
    for image in client.images.list(filters={"label": f"org.opencontainers.image.title={title}"}):
        try:
            client.images.remove(image.id, force=True)
        except docker.errors.NotFound:
            pass


def build_generation(title: str, number: int) -> str:
    label = f'org.opencontainers.image.title="{title}" generation="{number}"'
    dockerfile = f'FROM scratch\nLABEL {label}\nCMD ["x"]\n'
    image, _ = docker.from_env().images.build(fileobj=io.BytesIO(dockerfile.encode()), rm=True)
    return str(image.id)


def test_documented_pruning_keeps_the_newest_and_what_a_container_uses(title: str) -> None:
    client = docker.from_env()
    generations = []
    for number in range(4):  # oldest first; CreatedAt has one-second resolution
        generations.append(build_generation(title, number))
        time.sleep(1.1)
    oldest, second, third, newest = generations
    client.images.get(newest).tag(title, "test")  # what the stack's tag points at
    client.containers.create(oldest, labels={"prune-test": title})  # a stopped container still uses it

    result = subprocess.run(
        ["/bin/sh", "-c", documented_command(keep=2, title=title)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    titled = {"label": f"org.opencontainers.image.title={title}"}
    left = {image.id for image in client.images.list(filters=titled)}
    assert left == {newest, third, oldest}, (result.stdout, result.stderr)
    assert second not in left
    assert "being used by" in result.stderr  # the oldest was refused, not forced
