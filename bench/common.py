"""Small helpers every bench section shares: shelling out, timing, statistics, cleanup."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO_ROOT / "bench"
LABEL_KEY = "microservice-model.bench"


def _path_prefixes() -> list[tuple[str, str]]:
    """Machine directories and what results say instead, longest first (the repo may sit in the temp dir)."""
    names = {
        str(REPO_ROOT): "",
        str(Path(__file__).absolute().parent.parent): "",
        sys.prefix: "<venv>/",  # without a virtualenv, base_prefix below overwrites these two
        os.path.realpath(sys.prefix): "<venv>/",
        sys.base_prefix: "<python>/",
        os.path.realpath(sys.base_prefix): "<python>/",
        tempfile.gettempdir(): "<tmp>/",
    }
    return sorted(
        ((prefix.rstrip("/") + "/", name) for prefix, name in names.items()), key=lambda p: -len(p[0])
    )


def relative_paths(text: str) -> str:
    """`text` with absolute machine paths made repository-relative (or <venv>/, <python>/, <tmp>/).

    Results and logs get committed, and must not name the directories one machine's run happened to use.
    """
    for prefix, name in _path_prefixes():
        text = text.replace(prefix, name)
    return text


def shown(path: Path) -> str:
    """A path as results print it: see relative_paths."""
    return relative_paths(str(path.absolute()))


def print_exception(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
    """sys.excepthook for `python -m bench`: the usual traceback, with relative paths (logs get kept)."""
    sys.stderr.write(relative_paths("".join(traceback.format_exception(kind, error, tb))))


class BenchError(RuntimeError):
    """A bench step failed; the message says which command and why."""


def run(
    cmd: Sequence[str],
    *,
    timeout: float = 1800,
    check: bool = True,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capture its output, raise BenchError with the tail of stderr when it fails."""
    result = subprocess.run(
        list(cmd),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
        env={**os.environ, **env} if env else None,
    )
    if check and result.returncode != 0:
        tail = (result.stderr or result.stdout)[-2000:]
        raise BenchError(f"`{' '.join(cmd)}` exited {result.returncode}:\n{tail}")
    return result


def timed(cmd: Sequence[str], timeout: float = 1800, cwd: Path | None = None) -> float:
    """Wall-clock seconds one command takes (it must succeed)."""
    start = time.perf_counter()
    run(cmd, timeout=timeout, cwd=cwd)
    return time.perf_counter() - start


def script_output(name: str) -> str:
    """Last line printed by one of scripts/*.sh (they start dockerd, PostgreSQL, the base image)."""
    out = run(["bash", str(REPO_ROOT / "scripts" / name)], timeout=900).stdout.strip().splitlines()
    return out[-1] if out else ""


@dataclass
class Spread:
    """Median of several runs and their spread (min..max), in the unit of the samples."""

    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        return min(self.samples)

    @property
    def high(self) -> float:
        return max(self.samples)

    def fmt(self, digits: int = 1) -> str:
        if len(self.samples) == 1:
            return f"{self.median:.{digits}f}"
        return f"{self.median:.{digits}f} ({self.low:.{digits}f}-{self.high:.{digits}f})"


def http_status(url: str, timeout: float = 1.0) -> int:
    """HTTP status of a GET, or 0 when nothing answers (refused, reset, timed out)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (127.0.0.1 only)
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except (OSError, urllib.error.URLError):
        return 0


def wait_for_status(url: str, want: int = 200, timeout: float = 120.0) -> float:
    """Poll until `url` answers `want`; return the seconds it took. Raise BenchError on timeout."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if http_status(url) == want:
            return time.perf_counter() - start
        time.sleep(0.05)
    raise BenchError(f"{url} did not answer {want} within {timeout:.0f} s")


@dataclass
class Cleanup:
    """Everything a bench created (containers, images, volumes, databases), removed at the end."""

    containers: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)  # PostgreSQL databases (scripts/postgres-up.sh)
    paths: list[Path] = field(default_factory=list)

    def remove_containers(self) -> None:
        for name in reversed(self.containers):
            run(["docker", "rm", "-f", "-v", name], check=False, timeout=120)
        self.containers.clear()

    def remove_all(self) -> None:
        self.remove_containers()
        for image in reversed(self.images):
            # No -f: an ID that another tag (someone else's) also names must stay.
            run(["docker", "rmi", image], check=False, timeout=300)
        for volume in self.volumes:
            run(["docker", "volume", "rm", "-f", volume], check=False, timeout=60)
        for database in self.databases:
            run(["su", "postgres", "-c", f"dropdb --if-exists --force {database}"], check=False)
        for path in self.paths:
            run(["rm", "-rf", str(path)], check=False)
        self.containers.clear()
        self.images.clear()
        self.volumes.clear()
        self.databases.clear()
        self.paths.clear()


def label_args(area: str) -> list[str]:
    """`--label` arguments that mark a container, image or volume as this bench's own."""
    return ["--label", f"{LABEL_KEY}={area}"]
