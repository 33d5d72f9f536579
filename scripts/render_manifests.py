"""Regenerate what the docs derive from the program: docs/manifests/prod.yaml (the prod stack's Kubernetes
objects, rendered under Pulumi mocks, no cluster needed), docs/manifests/prod-ingress.yaml (the optional
Ingress, with example settings) and docs/pulumi.md's config reference table
(from Pulumi.yaml, the one source of the settings and their defaults).

Run from the repository root: `make manifests` or `.venv/bin/python -m scripts.render_manifests`.
tests/program fails when a committed copy differs from a fresh render.
"""

from __future__ import annotations

try:
    from tests.support.pulumi_mocks import run_program
    from tests.support.rendering import (
        INGRESS_EXAMPLE,
        INGRESS_MANIFESTS,
        MANIFESTS,
        PULUMI_DOCS,
        render_manifests,
        with_current_reference,
    )
    from tests.support.stack_config import REPO_ROOT
except ModuleNotFoundError as missing:  # run as a file: the repository root is not on the path
    raise SystemExit(
        f"{missing}: run `make manifests` or `.venv/bin/python -m scripts.render_manifests`"
    ) from None


def main() -> None:
    MANIFESTS.parent.mkdir(parents=True, exist_ok=True)
    MANIFESTS.write_text(render_manifests(run_program("prod")))
    ingress = run_program("prod", overrides=INGRESS_EXAMPLE)
    INGRESS_MANIFESTS.write_text(render_manifests(ingress, kinds=("Ingress",)))
    PULUMI_DOCS.write_text(with_current_reference(PULUMI_DOCS.read_text()))
    for path in (MANIFESTS, INGRESS_MANIFESTS, PULUMI_DOCS):
        print(path.relative_to(REPO_ROOT))


if __name__ == "__main__":
    main()
