"""Throughput and p99 against concurrency, one PNG per database, one line per gunicorn config."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on CI or a server

import matplotlib.pyplot as plt

from bench.common import Spread
from bench.serving_bench import ENDPOINTS, LoadResult


def plot_serving(results: list[LoadResult], out_dir: Path) -> list[Path]:
    """Write bench-serving-<database>.png into out_dir; return the paths written."""
    written: list[Path] = []
    for database in sorted({r.database for r in results}):
        endpoints = [e for e in ENDPOINTS if any(r.database == database and r.endpoint == e for r in results)]
        fig, axes = plt.subplots(3, len(endpoints), figsize=(5.5 * len(endpoints), 10.5), squeeze=False)
        for col, endpoint in enumerate(endpoints):
            rows = [r for r in results if r.database == database and r.endpoint == endpoint]
            for config in dict.fromkeys(r.config for r in rows):
                series = sorted((r for r in rows if r.config == config), key=lambda r: r.concurrency)
                xs = [r.concurrency for r in series]
                axes[0][col].errorbar(
                    xs,
                    [r.rps.median for r in series],
                    yerr=_spread(series, "rps"),
                    marker="o",
                    capsize=3,
                    label=config,
                )
                axes[1][col].errorbar(
                    xs,
                    [r.p99_ms.median for r in series],
                    yerr=_spread(series, "p99_ms"),
                    marker="o",
                    capsize=3,
                )
                axes[2][col].errorbar(
                    xs,
                    [r.cpu_ms.median for r in series],
                    yerr=_spread(series, "cpu_ms"),
                    marker="o",
                    capsize=3,
                )
            axes[0][col].set_title(f"{endpoint} ({database})")
            axes[0][col].set_ylabel("requests/s (median, bars: min-max)")
            axes[1][col].set_ylabel("p99 latency, ms")
            axes[2][col].set_ylabel("container CPU ms/request (cgroup)")
            for row in (0, 1, 2):
                axes[row][col].set_xscale("log", base=2)
                axes[row][col].set_xlabel("concurrent connections (wrk -c)")
                axes[row][col].grid(True, alpha=0.3)
            axes[0][col].set_ylim(bottom=0)
            axes[1][col].set_yscale("log")  # p99 spans milliseconds to seconds
            axes[2][col].set_ylim(bottom=0)
        # One legend for the figure: the diagnostics appear on the authorize plots only.
        handles: dict[str, Any] = {}
        for ax in axes[0]:
            for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
                handles.setdefault(label, handle)
        # Two legend columns per plot column, so the legend is never wider than the figure.
        columns = 2 * len(endpoints)
        legend_rows = -(-len(handles) // columns)
        fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=columns, fontsize=8)
        fig.suptitle(f"gunicorn configurations on the shipped image, {database}")
        fig.tight_layout(rect=(0, 0.01 + 0.022 * legend_rows, 1, 1))
        path = out_dir / f"bench-serving-{database}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def _spread(series: list[LoadResult], attr: str) -> list[list[float]]:
    spreads = [getattr(r, attr) for r in series]
    return [[s.median - s.low for s in spreads], [s.high - s.median for s in spreads]]


def load_results(path: Path) -> list[LoadResult]:
    """The serving results a bench run saved (bench/results/*.json)."""
    spreads = ("rps", "p50_ms", "p99_ms", "cpu_ms", "machine_cpu_ms")
    results = []
    for row in json.loads(path.read_text())["serving"]:
        fields: dict[str, Any] = {k: Spread(v["samples"]) if k in spreads else v for k, v in row.items()}
        results.append(LoadResult(**fields))
    return results


if __name__ == "__main__":
    # Redraw from saved results: python -m bench.plots bench/results/full-serving.json docs/
    Path(sys.argv[2]).mkdir(parents=True, exist_ok=True)
    for written in plot_serving(load_results(Path(sys.argv[1])), Path(sys.argv[2])):
        print(written)
