"""Section 4: the Pulumi program under mocks (tests/support/pulumi_mocks.py), per stack, and its suite."""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass

from bench.common import REPO_ROOT, BenchError, Spread, run

STACKS = ("test", "prod")
# One fresh interpreter per run, so module imports (pulumi, providers) are paid as on a real `pulumi up`.
PROGRAM_RUN = """
import time
from tests.support.pulumi_mocks import run_program
imported = time.perf_counter()
run = run_program({stack!r})
done = time.perf_counter()
print(f"BENCH program={{done - imported:.3f}} resources={{len(run.resources)}}")
"""


@dataclass
class ProgramResult:
    what: str
    seconds: Spread  # the program itself (or the whole suite)
    process_s: Spread  # the whole process, interpreter and imports included
    notes: str = ""


def program_run(stack: str) -> tuple[float, float, int]:
    started = time.perf_counter()
    result = run([sys.executable, "-c", PROGRAM_RUN.format(stack=stack)], cwd=REPO_ROOT, timeout=600)
    process = time.perf_counter() - started
    match = re.search(r"BENCH program=([\d.]+) resources=(\d+)", result.stdout)
    if match is None:
        raise BenchError(f"the {stack} program run printed no BENCH line:\n{result.stdout[-2000:]}")
    return float(match.group(1)), process, int(match.group(2))


def suite_run() -> tuple[float, str]:
    """`pytest tests/program` once; returns its wall time and pytest's closing line."""
    started = time.perf_counter()
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/program"]
    result = run(cmd, cwd=REPO_ROOT, timeout=1200)
    lines = result.stdout.strip().splitlines()
    return time.perf_counter() - started, lines[-1] if lines else ""


def bench_program(runs: int) -> list[ProgramResult]:
    results = []
    for stack in STACKS:
        samples = [program_run(stack) for _ in range(runs)]
        results.append(
            ProgramResult(
                f"program, {stack} stack",
                Spread([s[0] for s in samples]),
                Spread([s[1] for s in samples]),
                f"{samples[0][2]} resources registered",
            )
        )
        print(f"  program {stack}: {results[-1].seconds.fmt(2)} s ({results[-1].process_s.fmt(2)} s process)")
    suites = [suite_run() for _ in range(runs)]
    seconds = Spread([s[0] for s in suites])
    results.append(ProgramResult("pytest tests/program (mocked suite)", seconds, seconds, suites[-1][1]))
    print(f"  suite: {seconds.fmt(1)} s, {suites[-1][1]}")
    return results
