"""Section 1: the shipped image (app/Dockerfile) against the seed-style one (bench/seed-style/).

For each: final size, cold build (--no-cache) and rebuild after a one-line code change. Both build
from a private copy of app/ so the shared work tree is never touched, on the same local base image.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.common import BENCH_DIR, REPO_ROOT, Cleanup, Spread, label_args, run

SEED_DIR = BENCH_DIR / "seed-style"
# The file the one-line change goes into: imported by every request path, so it is real code.
CHANGED_FILE = Path("service") / "__init__.py"


@dataclass
class ImageResult:
    kind: str
    size_mb: float
    base_mb: float
    cold_s: Spread
    rebuild_s: Spread


def make_context(kind: str, parent: Path) -> tuple[Path, Path]:
    """Copy app/ (plus the old supervisor/gunicorn files for seed-style); return (context, Dockerfile)."""
    context = parent / f"context-{kind}"
    shutil.copytree(
        REPO_ROOT / "app", context, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    )
    if kind == "shipped":
        return context, context / "Dockerfile"
    # The old project had no .dockerignore; its Dockerfile did `COPY . /app` of everything.
    (context / ".dockerignore").unlink(missing_ok=True)
    (context / "Dockerfile").unlink(missing_ok=True)
    shutil.copytree(SEED_DIR / "docker", context / "docker")
    dockerfile = parent / "Dockerfile.seed-style"
    shutil.copy(SEED_DIR / "Dockerfile", dockerfile)
    return context, dockerfile


def build(context: Path, dockerfile: Path, tag: str, base_image: str, *, no_cache: bool) -> float:
    """Build once with the classic builder; return wall seconds."""
    cmd = ["docker", "build", "--quiet", "-f", str(dockerfile), "-t", tag]
    cmd += ["--build-arg", f"BASE_IMAGE={base_image}", *label_args("image")]
    if no_cache:
        cmd.append("--no-cache")
    start = time.perf_counter()
    run([*cmd, str(context)], timeout=1800)
    return time.perf_counter() - start


def image_id(tag: str) -> str:
    return run(["docker", "image", "inspect", "-f", "{{.Id}}", tag]).stdout.strip()


def image_size_mb(ref: str) -> float:
    return int(run(["docker", "image", "inspect", "-f", "{{.Size}}", ref]).stdout.strip()) / 1e6


def one_line_change(context: Path) -> None:
    """Append one new comment line: new content, so Docker's COPY cache misses exactly as for a fix."""
    with (context / CHANGED_FILE).open("a") as handle:
        handle.write(f"# bench rebuild {uuid.uuid4().hex}\n")


def bench_kind(kind: str, base_image: str, runs: int, cleanup: Cleanup, tmp: Path) -> ImageResult:
    context, dockerfile = make_context(kind, tmp)
    tag = f"microservice-model-bench/{kind}:{uuid.uuid4().hex[:8]}"
    cleanup.images.append(tag)
    cold: list[float] = []
    rebuild: list[float] = []
    size = 0.0
    for index in range(runs):
        cold.append(build(context, dockerfile, tag, base_image, no_cache=True))
        cleanup.images.append(image_id(tag))
        size = image_size_mb(tag)
        one_line_change(context)
        rebuild.append(build(context, dockerfile, tag, base_image, no_cache=False))
        cleanup.images.append(image_id(tag))
        print(f"  image {kind} run {index + 1}/{runs}: cold {cold[-1]:.1f} s, rebuild {rebuild[-1]:.1f} s")
    return ImageResult(kind, size, image_size_mb(base_image), Spread(cold), Spread(rebuild))


def build_shipped_image(base_image: str, cleanup: Cleanup) -> str:
    """Build the shipped image once (cache allowed) for the other sections; return its tag."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-ctx-"))
    cleanup.paths.append(tmp)
    context, dockerfile = make_context("shipped", tmp)
    # Own content, so an image ID of its own: another suite's cleanup (by image ID or ancestry) must
    # never hit the bench's containers, nor the bench's `docker rmi` another suite's image.
    one_line_change(context)
    tag = f"microservice-model-bench/shipped:serve-{uuid.uuid4().hex[:8]}"
    cleanup.images.append(tag)
    build(context, dockerfile, tag, base_image, no_cache=False)
    return tag


def bench_images(base_image: str, runs: int, cleanup: Cleanup) -> list[ImageResult]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-ctx-"))
    cleanup.paths.append(tmp)
    return [bench_kind(kind, base_image, runs, cleanup, tmp) for kind in ("shipped", "seed-style")]
