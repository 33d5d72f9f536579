#!/usr/bin/env bash
# Every static check CI runs: ruff (lint + format), mypy, hadolint on the Dockerfile.
set -euo pipefail
cd "$(dirname "$0")/.."

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy .
.venv/bin/hadolint app/Dockerfile
