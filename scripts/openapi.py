"""Write the service's OpenAPI document, app/service/openapi/openapi.json (docs/openapi.json links to
it), from the routes' `@documented` contracts and their pydantic models (app/service/openapi/build.py),
and docs/contract.md's endpoint list from it.

Run from the repository root: `make openapi` (or `.venv/bin/python scripts/openapi.py`); `--check`
only says whether the committed file is current (exit 1 if not). tests/contract checks the same.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "app"))

from service.openapi import DOCUMENT_PATH  # noqa: E402 (after the path set-up above)
from service.openapi.build import (  # noqa: E402
    UndocumentedRoute,
    render,
    service_document,
    with_endpoint_table,
)

CONTRACT_DOC = REPO_ROOT / "docs" / "contract.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed document is not current")
    args = parser.parse_args()
    try:
        document = service_document()
    except UndocumentedRoute as error:
        print(error, file=sys.stderr)
        return 1
    fresh = {
        DOCUMENT_PATH: render(document),
        CONTRACT_DOC: with_endpoint_table(CONTRACT_DOC.read_text(), document),
    }
    stale = [path for path, text in fresh.items() if not path.exists() or path.read_text() != text]
    for path in stale:
        where = path.relative_to(REPO_ROOT)
        if args.check:
            print(f"{where} is not current: run `make openapi`", file=sys.stderr)
        else:
            path.write_text(fresh[path])
            print(f"wrote {where}")
    if not stale:
        print("the OpenAPI document and docs/contract.md's endpoint list are current")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
