"""Render the prod stack's Kubernetes objects to docs/manifests/prod.yaml (Pulumi mocks, no cluster needed).

Run from the repository root: `.venv/bin/python scripts/render_manifests.py`.
tests/program/test_program_kubernetes.py fails when the committed file differs from a fresh render.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.program.harness import render_manifests, run_program  # noqa: E402 - needs the root on sys.path


def main() -> None:
    target = ROOT / "docs" / "manifests" / "prod.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_manifests(run_program("prod")))
    print(target.relative_to(ROOT))


if __name__ == "__main__":
    main()
