#!/usr/bin/env bash
# Every static check CI runs: ruff (lint + format), mypy, hadolint on the Dockerfile, actionlint on the workflows.
set -euo pipefail
cd "$(dirname "$0")/.."

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy .
.venv/bin/hadolint app/Dockerfile
.venv/bin/actionlint -shellcheck .venv/bin/shellcheck .github/workflows/*.yml
