"""A code-only change rebuilds on top of cached dependency layers; .dockerignore keeps junk out.

Works on a private copy of app/ (the shared work tree is never touched): one line of code is
changed and files that must never reach the image are planted, then the copy is built after the
session's `service_image`, whose layers are the cache. Times belong to bench/, not here.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.images import BuiltImage, ImageBuildError, labels_for

# Paths (relative to the context) that .dockerignore must keep out of the image.
PLANTED = {
    "tests/test_planted.py": "def test_x(): pass\n",
    "service/test_planted.py": "def test_x(): pass\n",
    "service/__pycache__/planted.cpython-311.pyc": "junk",
    ".pytest_cache/README.md": "cache",
    ".venv/pyvenv.cfg": "home = /usr/bin\n",
    "logs/app.log": "old log line\n",
    "data/service.db": "not a database",
    ".env": "SECRET_KEY=planted-secret-from-a-developer-laptop\n",
}


@dataclass(frozen=True)
class CodeChange:
    built: BuiltImage
    marker: str


@pytest.fixture(scope="module")
def code_change(
    service_image: str, make_tmp_dir: Callable[[str], Path], build_image_from: Callable[..., BuiltImage]
) -> CodeChange:
    context = make_tmp_dir("context") / "app"
    shutil.copytree(Path(__file__).resolve().parents[2] / "app", context)
    marker = f"# code-only change {uuid.uuid4().hex}"
    with (context / "healthcheck.py").open("a") as handle:
        handle.write(marker + "\n")
    for relative, text in PLANTED.items():
        (context / relative).parent.mkdir(parents=True, exist_ok=True)
        (context / relative).write_text(text)
    return CodeChange(build_image_from(context), marker)


def test_code_only_change_takes_the_dependency_layers_from_cache(
    docker_api: Any, service_image: str, code_change: CodeChange
) -> None:
    built = code_change.built
    assert built.step("pip install").cached, built.log
    assert built.step("COPY --from=builder /opt/venv").cached, built.log
    assert not built.step("COPY . /app").cached, built.log

    # Same layers as the session's image up to the code, which is the only new content: the COPY
    # and its bytecode, compiled right after it (issue 15).
    assert not built.step("compileall -q -j 0 /app").cached, built.log
    before = docker_api.images.get(service_image).attrs["RootFS"]["Layers"]
    after = docker_api.images.get(built.id).attrs["RootFS"]["Layers"]
    assert after[:-2] == before[:-2]
    assert after[-2] != before[-2]
    assert after[-1] != before[-1]


def test_changed_line_of_code_is_in_the_rebuilt_image(docker_api: Any, code_change: CodeChange) -> None:
    output = docker_api.containers.run(
        code_change.built.id,
        ["tail", "-n", "1", "/app/healthcheck.py"],
        remove=True,
        labels=labels_for("image"),
    )
    assert bytes(output).decode().strip() == code_change.marker


def test_dockerignore_keeps_tests_caches_venvs_logs_data_and_env_files_out(
    docker_api: Any, code_change: CodeChange
) -> None:
    paths = sorted(f"/app/{relative}" for relative in PLANTED)
    script = "for p in " + " ".join(paths) + '; do [ -e "$p" ] && echo "present $p"; done; ls /app'
    output = bytes(
        docker_api.containers.run(
            code_change.built.id, ["sh", "-c", script], remove=True, labels=labels_for("image")
        )
    ).decode()
    assert "present" not in output, output
    # What the service needs did get in.
    assert {"service", "migrations", "gunicorn.conf.py", "healthcheck.py"} <= set(output.split()), output
    # An empty /app/logs and /app/data are made by the image itself, never copied from the context.
    listing = bytes(
        docker_api.containers.run(
            code_change.built.id,
            ["ls", "-A", "/app/logs", "/app/data"],
            remove=True,
            labels=labels_for("image"),
        )
    ).decode()
    assert listing.split() == ["/app/data:", "/app/logs:"], listing


def test_pip_index_url_build_arg_is_the_index_pip_installs_from(
    make_tmp_dir: Callable[[str], Path], build_image_from: Callable[..., BuiltImage]
) -> None:
    # A mirror that does not answer (loopback of the build container): the install must fail, and
    # pip must name that index, which shows the build arg reached pip (the default, PyPI, builds).
    context = make_tmp_dir("mirror") / "app"
    shutil.copytree(Path(__file__).resolve().parents[2] / "app", context)
    mirror = "http://127.0.0.1:9/simple/"
    with pytest.raises(ImageBuildError) as failure:
        build_image_from(context, pip_index_url=mirror)
    assert f"Looking in indexes: {mirror}" in failure.value.log
    assert "pip install" in failure.value.log
