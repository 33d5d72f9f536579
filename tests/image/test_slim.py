"""Issue 15: the runtime image carries no installer, test suite or build-only dependency, ships its
bytecode compiled at build time (the libraries' as bytecode only), uses psycopg's C implementation
against the distribution's libpq (no second bundled OpenSSL), has cryptography for the tokens, and
stays under 60 MB above the base image."""

from __future__ import annotations

from typing import Any

from tests.support.images import labels_for

SIZE_ABOVE_BASE_MAX = 60 * 10**6  # bytes, as `docker image inspect` counts them

# Prints one line per finding; the service's own imports must still work without the removed parts.
PROBE = """
import importlib.util, pathlib, sys
site = next(pathlib.Path(p) for p in sys.path if p.endswith("site-packages"))
for name in ("pip", "setuptools", "wheel", "pycparser"):
    if importlib.util.find_spec(name) is not None:
        print("installed:", name)
for path in site.rglob("*"):
    if path.is_dir() and path.name in ("tests", "testing") or path.suffix in (".pyi", ".c", ".h"):
        print("not for runtime:", path.relative_to(site))
for module in ("service/__init__.py", "service/queries.py", "gunicorn.conf.py"):
    source = pathlib.Path("/app") / module
    if not list(source.parent.glob(f"__pycache__/{source.stem}.*.pyc")):
        print("no bytecode:", source)
import flask, sqlalchemy.orm, gunicorn.workers.gthread
if not (pathlib.Path(flask.__file__).parent / "app.pyc").is_file():
    print("no bytecode: flask")
for path in site.rglob("*.pyc"):
    if path.with_suffix(".py").exists():
        print("source and bytecode:", path.relative_to(site))
import psycopg, psycopg.pq
if psycopg.pq.__impl__ != "c":
    print("psycopg implementation:", psycopg.pq.__impl__)
if list(site.glob("psycopg_binary*")):
    print("bundled libpq: psycopg_binary")
from jwt.algorithms import has_crypto
if not has_crypto:
    print("no cryptography for PyJWT")
import argon2
hasher = argon2.PasswordHasher(memory_cost=1024, time_cost=1, parallelism=1)
assert hasher.verify(hasher.hash("probe"), "probe")
print("probe done")
"""


def test_runtime_image_has_no_installers_tests_or_build_only_parts(
    docker_api: Any, service_image: str
) -> None:
    output = docker_api.containers.run(
        service_image, ["python", "-c", PROBE], remove=True, labels=labels_for("image")
    )
    lines = bytes(output).decode().splitlines()
    assert lines == ["probe done"], lines


def test_image_is_under_60_mb_above_its_base(
    docker_api: Any, service_image: str, session_base_image: str
) -> None:
    size = docker_api.images.get(service_image).attrs["Size"]
    base = docker_api.images.get(session_base_image).attrs["Size"]
    assert size - base < SIZE_ABOVE_BASE_MAX, f"{(size - base) / 1e6:.1f} MB above the base"
