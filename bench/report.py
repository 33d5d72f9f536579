"""Markdown tables (printed and saved) and the target verdicts, from the sections' results."""

from __future__ import annotations

from collections.abc import Sequence

from bench.deploy_bench import DeployResult
from bench.image_bench import ImageResult
from bench.program_bench import ProgramResult
from bench.serving_bench import LoadResult, ServerResult

SIZE_TARGET = 0.25  # shipped size at most a quarter of seed-style
REBUILD_TARGET_S = 10.0
RPS_TARGET = 1.5  # shipped authorize rps at least 1.5x the old config's
CPU_MS_TARGET = 1.5  # container CPU per authorize request (issue 15)
START_TARGET_S = 3.0  # container start to first 200 (issue 15, on a quiet machine)
ABOVE_BASE_TARGET_MB = 60.0  # image size above the base (issue 15)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def image_table(results: list[ImageResult]) -> str:
    rows = [
        (
            r.kind,
            f"{r.size_mb:.0f}",
            f"{r.size_mb - r.base_mb:.0f}",
            r.cold_s.fmt(1),
            r.rebuild_s.fmt(1),
        )
        for r in results
    ]
    header = ("image", "size MB", "MB above base", "cold build s", "rebuild after 1-line change s")
    return table(header, rows)


def image_verdict(results: list[ImageResult]) -> list[str]:
    by_kind = {r.kind: r for r in results}
    shipped, seed = by_kind["shipped"], by_kind["seed-style"]
    ratio = shipped.size_mb / seed.size_mb
    added = (shipped.size_mb - shipped.base_mb) / max(seed.size_mb - seed.base_mb, 1e-9)
    return [
        f"size: shipped/seed-style = {ratio:.2f} (target <= {SIZE_TARGET}): "
        f"{'MET' if ratio <= SIZE_TARGET else 'NOT MET'}; above the shared {shipped.base_mb:.0f} MB base "
        f"the ratio is {added:.2f}",
        f"code-only rebuild: shipped median {shipped.rebuild_s.median:.1f} s "
        f"(target < {REBUILD_TARGET_S:.0f} s): "
        f"{'MET' if shipped.rebuild_s.median < REBUILD_TARGET_S else 'NOT MET'}; "
        f"seed-style {seed.rebuild_s.median:.1f} s",
    ]


def serving_table(results: list[LoadResult]) -> str:
    rows = [
        (
            r.database,
            r.endpoint,
            r.config,
            r.concurrency,
            r.rps.fmt(0),
            r.p50_ms.fmt(1),
            r.p99_ms.fmt(1),
            r.cpu_ms.fmt(2),
            r.machine_cpu_ms.fmt(2),
            f"{r.errors}/{r.requests}",
            f"{r.loadavg:.1f}",
        )
        for r in results
    ]
    header = (
        "db",
        "endpoint",
        "config",
        "conc.",
        "rps",
        "p50 ms",
        "p99 ms",
        "CPU ms/request",
        "machine CPU ms/request",
        "errors/requests",
        "load",
    )
    return table(header, rows)


def serving_verdict(results: list[LoadResult]) -> list[str]:
    """Shipped default against the old config on authorize, per database and concurrency, and how far
    the shipped worker model could go at all (its floor: the same settings serving an app that does no
    work)."""
    lines = []
    for r in results:
        if r.endpoint != "authorize" or not r.config.startswith("shipped ("):
            continue
        old = same_cell(results, r, "old")
        if old is None:
            continue
        ratio = r.rps.median / old.rps.median
        met = ratio >= RPS_TARGET and r.p99_ms.median < old.p99_ms.median
        cpu_met = r.cpu_ms.median <= CPU_MS_TARGET
        line = (
            f"{r.database} authorize c={r.concurrency}: shipped {r.rps.median:.0f} rps / old "
            f"{old.rps.median:.0f} rps = {ratio:.2f}x (target >= {RPS_TARGET}x); "
            f"p99 {r.p99_ms.median:.1f} vs {old.p99_ms.median:.1f} ms: {'MET' if met else 'NOT MET'}; "
            f"CPU {r.cpu_ms.median:.2f} vs {old.cpu_ms.median:.2f} ms/request "
            f"(target <= {CPU_MS_TARGET}): {'MET' if cpu_met else 'NOT MET'}"
        )
        worker_class = r.config.removeprefix("shipped (").rstrip(")")
        for kind, what in (("floor", "an app that does nothing"), ("floor+flask", "an empty Flask view")):
            floor = same_cell(results, r, f"{kind}: {worker_class}, shipped")
            if floor is not None:
                line += (
                    f"; the shipped worker model serving {what} {floor.rps.median:.0f} rps "
                    f"= {floor.rps.median / old.rps.median:.2f}x old"
                )
        lines.append(line)
    return lines


def same_cell(results: list[LoadResult], cell: LoadResult, config_prefix: str) -> LoadResult | None:
    """The result of the configuration named `config_prefix...` for the same database, endpoint and
    concurrency as `cell`."""
    return next(
        (
            o
            for o in results
            if o.config.startswith(config_prefix)
            and (o.database, o.endpoint, o.concurrency) == (cell.database, cell.endpoint, cell.concurrency)
        ),
        None,
    )


def server_table(results: list[ServerResult]) -> str:
    rows = [
        (
            r.database,
            r.config,
            r.start_s.fmt(2),
            f"{r.loadavg:.1f}",
            r.rss_idle_mb.fmt(0),
            r.rss_load_mb.fmt(0),
            r.pss_idle_mb.fmt(0),
            r.pss_load_mb.fmt(0),
        )
        for r in results
    ]
    header = (
        "db",
        "config",
        "start to first 200 s",
        "load at start",
        "RSS idle MiB",
        "RSS after load MiB",
        "Pss idle MiB",
        "Pss after load MiB",
    )
    return table(header, rows)


def server_verdict(results: list[ServerResult]) -> list[str]:
    return [
        f"{r.database} {r.config}: start to first 200 {r.start_s.median:.2f} s at load {r.loadavg:.1f} "
        f"(target <= {START_TARGET_S:.0f} s on a quiet machine): "
        f"{'MET' if r.start_s.median <= START_TARGET_S else 'NOT MET'}"
        for r in results
        if r.config.startswith("shipped (")
    ]


def above_base_verdict(results: list[ImageResult]) -> str:
    shipped = next(r for r in results if r.kind == "shipped")
    above = shipped.size_mb - shipped.base_mb
    met = above < ABOVE_BASE_TARGET_MB
    verdict = "MET" if met else "NOT MET"
    return f"shipped image {above:.1f} MB above the base (target < {ABOVE_BASE_TARGET_MB:.0f}): {verdict}"


def deploy_table(results: list[DeployResult]) -> str:
    rows = [(r.method, r.wall_s.fmt(1), r.failed_s.fmt(2), r.notes) for r in results]
    header = ("redeploy after a 1-line code change", "s until /readyz 200", "s of failed probes", "steps")
    return table(header, rows)


def program_table(results: list[ProgramResult]) -> str:
    rows = [(r.what, r.seconds.fmt(2), r.process_s.fmt(2), r.notes) for r in results]
    return table(("what", "s (program / suite)", "s (whole process)", "notes"), rows)
