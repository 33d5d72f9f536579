"""Entry point: `python -m bench [--quick] [--only SECTION ...] [--out DIR]`.

Full mode (default) runs every section several times and writes docs/bench-serving-*.png plus
bench/results/full-<sections>.{md,json}; --quick runs each section once, briefly (the CI smoke), and writes
into a temporary directory unless --out is given, so it never dirties the work tree.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import report
from bench.common import REPO_ROOT, Cleanup, print_exception, run, script_output, shown
from bench.serving_bench import ENDPOINTS, ServingPlan

SECTIONS = ("image", "serving", "deploy", "program", "front", "profile")
# Run unless --only names others; "profile" is a diagnostic (py-spy on the workers), run on request.
DEFAULT_SECTIONS = [section for section in SECTIONS if section != "profile"]
FULL = {"image_runs": 3, "deploy_runs": 3, "program_runs": 3, "front_runs": 3}
QUICK = {"image_runs": 1, "deploy_runs": 1, "program_runs": 1, "front_runs": 1}
PROFILE_SECONDS = {"full": 12, "quick": 3}
FULL_SERVING = ServingPlan(concurrencies=[4, 16, 64], duration_s=5, runs=3, warmup_s=2)
QUICK_SERVING = ServingPlan(concurrencies=[16], duration_s=2, runs=1, warmup_s=1, all_configs=False)


def machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "?",
    )
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    docker = run(["docker", "version", "-f", "{{.Server.Version}}"], check=False).stdout.strip()
    return {
        "date_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "memory_gib": f"{mem_kb / 1024 / 1024:.1f}",
        "cpu": cpu,
        "kernel": platform.release(),
        "docker_server": docker,
        "loadavg_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one short run of each section (CI smoke)")
    parser.add_argument(
        "--only", nargs="+", choices=SECTIONS, default=DEFAULT_SECTIONS, help="sections to run"
    )
    parser.add_argument("--out", type=Path, help="where results (and PNGs) go")
    parser.add_argument(
        "--endpoints",
        nargs="+",
        choices=ENDPOINTS,
        default=list(ENDPOINTS),
        help="serving: endpoints to load",
    )
    parser.add_argument(
        "--configs",
        nargs="+",
        default=[],
        help="serving: only gunicorn configs whose name contains one of these",
    )
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress shows in a log file

    counts = QUICK if args.quick else FULL
    plan = dataclasses.replace(
        QUICK_SERVING if args.quick else FULL_SERVING,
        config_filter=tuple(args.configs),
        endpoints=tuple(args.endpoints),
    )
    if args.out:
        results_dir = plots_dir = args.out
    elif args.quick:
        results_dir = plots_dir = Path(tempfile.mkdtemp(prefix="bench-quick-"))
    else:
        results_dir, plots_dir = REPO_ROOT / "bench" / "results", REPO_ROOT / "docs"
    results_dir.mkdir(parents=True, exist_ok=True)
    plots_dir.mkdir(parents=True, exist_ok=True)

    script_output("dockerd-up.sh")
    base_image = script_output("base-image.sh")
    data: dict[str, Any] = {"mode": "quick" if args.quick else "full", "machine": machine()}
    markdown: list[str] = [f"Mode: {data['mode']}; machine: {data['machine']}"]
    cleanup = Cleanup()
    started = time.perf_counter()
    try:
        if "image" in args.only:
            from bench.image_bench import bench_images

            print("== image: shipped vs seed-style ==", flush=True)
            images = bench_images(base_image, counts["image_runs"], cleanup)
            data["image"] = images
            markdown += ["## Image", report.image_table(images), *report.image_verdict(images)]
            markdown.append(report.above_base_verdict(images))
            cleanup.remove_all()
        if "serving" in args.only:
            from bench.image_bench import build_shipped_image
            from bench.plots import plot_serving
            from bench.serving_bench import bench_serving

            print("== serving: gunicorn configs under wrk ==", flush=True)
            postgres_url = script_output("postgres-up.sh")
            shipped_image = build_shipped_image(base_image, cleanup)
            serving, workers, servers = bench_serving(shipped_image, postgres_url, plan, cleanup)
            data["serving"] = serving
            data["workers"] = workers
            data["servers"] = servers
            pngs = plot_serving(serving, plots_dir)
            markdown += ["## Serving", f"workers: {workers}", report.serving_table(serving)]
            markdown += [*report.serving_verdict(serving), "plots: " + ", ".join(shown(p) for p in pngs)]
            markdown += [report.server_table(servers), *report.server_verdict(servers)]
            cleanup.remove_all()
        if "deploy" in args.only:
            from bench.deploy_bench import bench_deploy

            print("== deploy: old script sequence vs the test-stack deploy ==", flush=True)
            deploys = bench_deploy(base_image, counts["deploy_runs"], cleanup, quick=args.quick)
            data["deploy"] = deploys
            markdown += ["## Deploy", report.deploy_table(deploys)]
            cleanup.remove_all()
        if "program" in args.only:
            from bench.program_bench import bench_program

            print("== program: Pulumi program under mocks ==", flush=True)
            program = bench_program(counts["program_runs"])
            data["program"] = program
            markdown += ["## Pulumi program (mocks)", report.program_table(program)]
        if "front" in args.only:
            from bench.front_bench import bench_front, front_tables

            print("== front: requests lost per redeploy, none vs nginx vs online.sh; the front's latency ==")
            front = bench_front(base_image, counts["front_runs"], cleanup)
            data["front"] = front
            markdown += ["## Front proxy (issue 13)", *front_tables(front)]
        if "profile" in args.only:
            from bench.image_bench import build_shipped_image
            from bench.profile_bench import bench_profile, profile_table

            print("== profile: where an authorize request's CPU goes (py-spy on each worker) ==")
            postgres_url = script_output("postgres-up.sh")
            shipped_image = build_shipped_image(base_image, cleanup)
            profiles = bench_profile(shipped_image, postgres_url, PROFILE_SECONDS[data["mode"]], cleanup)
            data["profile"] = profiles
            markdown += ["## Profile of authorize (issue 15)", profile_table(profiles)]
    finally:
        cleanup.remove_all()
    markdown.append(f"Total bench wall time: {time.perf_counter() - started:.0f} s")
    text = "\n\n".join(markdown) + "\n"
    print("\n" + text)
    # Named by mode and sections, so a run of some sections does not overwrite another's results.
    stem = results_dir / "-".join([data["mode"], *[s for s in SECTIONS if s in args.only]])
    stem.with_suffix(".md").write_text(text)
    stem.with_suffix(".json").write_text(json.dumps(data, default=_jsonable, indent=1) + "\n")
    print(f"results: {shown(stem)}.md, {shown(stem)}.json")
    return 0


def _jsonable(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


if __name__ == "__main__":
    sys.excepthook = print_exception
    raise SystemExit(main())
