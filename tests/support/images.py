"""Build the service image (app/Dockerfile) on a real engine and clean it up again.

Plain functions, so the image tests, the deploy harness and bench/ share one way to build. The
engine here is Docker 20.10 with the classic builder: the Docker SDK's build call uses it, and its
step-by-step log ("Step 7/20 : RUN ...", " ---> Using cache") tells which layers came from cache.
"""

from __future__ import annotations

import itertools
import os
import re
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors

from tests.support.scripts import run_script

# Every container and image the tests create carries these labels; cleanup goes by our own names
# and ids only, never by a broad filter (other engineers use the same engine).
TEST_LABEL = "microservice-model.test"
SESSION_LABEL = "microservice-model.test.session"
SESSION_ID = uuid.uuid4().hex[:12]

STEP_HEADER = re.compile(r"^Step (\d+)/\d+ : (.*)$")
STEP_RESULT = re.compile(r"^ ---> ([0-9a-f]{12})$")


def labels_for(area: str) -> dict[str, str]:
    """Labels for anything a test creates: its area and this pytest session."""
    return {TEST_LABEL: area, SESSION_LABEL: SESSION_ID}


def docker_client() -> Any:
    """A Docker SDK client for the local engine (API version negotiated: the server is 20.10)."""
    return docker.from_env(timeout=600)


class ImageBuildError(RuntimeError):
    """`docker build` failed; carries the build log so the cause is visible in the test report."""

    def __init__(self, message: str, log: str) -> None:
        super().__init__(
            f"{message}\n--- build log (last 60 lines) ---\n" + "\n".join(log.splitlines()[-60:])
        )
        self.log = log


@dataclass(frozen=True)
class BuildStep:
    number: int
    instruction: str
    cached: bool
    image_id: str | None  # short id of the image this step produced (or took from cache)


@dataclass(frozen=True)
class BuiltImage:
    id: str
    tag: str
    log: str

    @property
    def steps(self) -> list[BuildStep]:
        return parse_steps(self.log)

    def step(self, fragment: str) -> BuildStep:
        """The one step whose instruction contains `fragment` (e.g. "pip install")."""
        matches = [step for step in self.steps if fragment in step.instruction]
        if len(matches) != 1:
            raise LookupError(f"expected one build step containing {fragment!r}, found {len(matches)}")
        return matches[0]

    @property
    def builder_stage_id(self) -> str | None:
        """Short id of the builder stage's last image: the classic builder keeps it untagged."""
        steps = self.steps
        for previous, step in itertools.pairwise(steps):
            if re.match(r"FROM .* AS runtime$", step.instruction, flags=re.IGNORECASE):
                return previous.image_id
        return None


def parse_steps(log: str) -> list[BuildStep]:
    """Split a classic-builder log into its steps: instruction, from cache or not, resulting image."""
    steps: list[BuildStep] = []
    current: dict[str, Any] | None = None
    for line in log.splitlines():
        header = STEP_HEADER.match(line)
        if header:
            if current is not None:
                steps.append(BuildStep(**current))
            current = {"number": int(header[1]), "instruction": header[2], "cached": False, "image_id": None}
        elif current is not None:
            if line.strip() == "---> Using cache":
                current["cached"] = True
            result = STEP_RESULT.match(line)
            if result:
                current["image_id"] = result[1]
    if current is not None:
        steps.append(BuildStep(**current))
    return steps


def build(
    context: Path,
    base_image: str,
    tag: str,
    labels: Mapping[str, str],
    *,
    pip_index_url: str = "",
    nocache: bool = False,
    dockerfile: str = "Dockerfile",
    client: Any = None,
) -> BuiltImage:
    """Build `context` (a copy of app/ or app/ itself) FROM `base_image`; return id, tag and log.

    Raises ImageBuildError with the log when the build fails.
    """
    client = client or docker_client()
    log_lines: list[str] = []
    image_id: str | None = None
    chunks = client.api.build(
        path=str(context),
        dockerfile=dockerfile,
        tag=tag,
        labels=dict(labels),
        buildargs={"BASE_IMAGE": base_image, "PIP_INDEX_URL": pip_index_url},
        nocache=nocache,
        pull=False,  # no registry can be reached: the base must be local
        rm=True,
        forcerm=True,  # remove intermediate containers even when a step fails
        decode=True,
    )
    for chunk in chunks:
        if "stream" in chunk:
            log_lines.extend(chunk["stream"].rstrip("\n").split("\n"))
        if "error" in chunk:
            log = "\n".join(log_lines)
            remove_step_images_made_by(log, client)
            raise ImageBuildError(f"docker build of {context} failed: {chunk['error'].strip()}", log)
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
    log = "\n".join(log_lines)
    if image_id is None:
        raise ImageBuildError(f"docker build of {context} reported no image id", log)
    return BuiltImage(id=image_id, tag=tag, log=log)


def build_image(context: Path, base_image: str, tag: str, labels: Mapping[str, str], **options: Any) -> str:
    """Build and return the image id (see `build` for the options)."""
    return build(context, base_image, tag, labels, **options).id


def remove_step_images_made_by(log: str, client: Any) -> None:
    """After a failed build: remove the untagged step images it made (not those it took from cache)."""
    for step in reversed(parse_steps(log)):
        if step.image_id and not step.cached and not step.instruction.upper().startswith("FROM "):
            try:
                client.images.remove(step.image_id, noprune=True)
            except (docker.errors.NotFound, docker.errors.APIError):
                pass  # already gone, or a concurrent build uses it as its parent: not ours to force


def remove_built_image(built: BuiltImage, *, client: Any = None) -> None:
    """Remove what one build made: its tag (which frees its layers) and the builder stage it created.

    Removal goes by our unique tag, so an identical image another build also tagged stays. The
    builder stage image is removed only when this build created it rather than taking it from cache.
    """
    client = client or docker_client()
    try:
        client.images.remove(built.tag, force=True)
    except docker.errors.NotFound:
        pass
    builder_steps = [step for step in built.steps if step.image_id == built.builder_stage_id]
    if built.builder_stage_id and builder_steps and not builder_steps[-1].cached:
        try:
            client.images.remove(built.builder_stage_id)
        except (docker.errors.NotFound, docker.errors.APIError):
            pass  # in use as another image's parent or already gone: not ours to force


def isolated_base_image(base_image: str) -> Iterator[str]:
    """Body of the session fixture `session_base_image`: `base_image` plus this session's labels.

    No new layer, but a new image id: every build of this session chains off it, so Docker's
    classic-builder cache cannot mix this session's layers with those of concurrent builds of the
    same Dockerfile (it follows the newest matching image, which may be a --no-cache build still
    without its pip layer), and another run's cleanup by `ancestor=` cannot reach our containers.
    """
    client = docker_client()
    with tempfile.TemporaryDirectory(prefix="microservice-model-test-base-") as context:
        (Path(context) / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
        built = build(
            Path(context),
            base_image,
            f"microservice-model-test/base:{SESSION_ID}",
            labels_for("session-base"),
            client=client,
        )
    try:
        yield built.tag
    finally:
        remove_built_image(built, client=client)


def session_service_image(app_dir: Path, base_image: str) -> Iterator[str]:
    """Body of the session fixture `service_image`: build app/ once, yield the id, remove at the end.

    PIP_INDEX_URL from the environment is passed on, so CI behind a mirror builds the same way.
    """
    client = docker_client()
    tag = f"microservice-model-test/service:{SESSION_ID}"
    built = build(
        app_dir,
        base_image,
        tag,
        labels_for("service-image"),
        pip_index_url=os.environ.get("PIP_INDEX_URL", ""),
        client=client,
    )
    try:
        yield built.id
    finally:
        remove_built_image(built, client=client)


# The front proxy's image for tests: Debian's nginx, standing in for the official nginx image (frontImage's
# default), which cannot be pulled here. The front's config needs nginx >= 1.27.3 (`resolve` on an upstream
# server, for keep-alive connections to whichever app containers DNS lists); bookworm has 1.22 and
# trixie 1.26, so it is Debian testing's nginx, in a local base of its own made like the app's
# (scripts/base-image.sh, debootstrap from Debian's default mirror; about a minute, once per machine).
# The program runs either image the same way: its own entrypoint and config, as a non-root UID, with bash
# for the healthcheck.
FRONT_BASE_ENV = {
    "BASE_IMAGE_SUITE": "testing",
    "BASE_IMAGE_TAG": "microservice-model-front-base:testing",
    "BASE_IMAGE_PACKAGES": "nginx,ca-certificates",
}
FRONT_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN rm -rf /etc/nginx/sites-enabled/* && nginx -v
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
"""


def front_base_image() -> str:
    """The front's local base (Debian testing with nginx), made by scripts/base-image.sh if missing."""
    return run_script("base-image.sh", env=FRONT_BASE_ENV)


def build_front_image(tag: str, labels: Mapping[str, str], client: Any = None) -> BuiltImage:
    """Build the tests' nginx image FROM the front's local base (front_base_image)."""
    base = front_base_image()
    with tempfile.TemporaryDirectory(prefix="microservice-model-front-") as context:
        (Path(context) / "Dockerfile").write_text(FRONT_DOCKERFILE)
        return build(Path(context), base, tag, labels, client=client)


def session_front_image() -> Iterator[str]:
    """Body of the session fixture `front_image`: build it once, yield its ID, remove it at the end."""
    client = docker_client()
    built = build_front_image(
        f"microservice-model-test/front:{SESSION_ID}", labels_for("front-image"), client
    )
    try:
        yield built.id
    finally:
        remove_built_image(built, client=client)
