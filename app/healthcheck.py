"""Container HEALTHCHECK: exit 0 when GET /healthz answers 200, else 1. Standard library only."""

from __future__ import annotations

import os
import sys
import urllib.request

URL = os.environ.get("HEALTHCHECK_URL", "http://127.0.0.1:8000/healthz")


def main() -> int:
    try:
        with urllib.request.urlopen(URL, timeout=5) as response:  # noqa: S310 (fixed http URL)
            return 0 if response.status == 200 else 1
    except OSError as error:
        print(f"healthcheck: {URL}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
