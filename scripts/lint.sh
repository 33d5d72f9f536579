#!/usr/bin/env bash
# Every static check CI runs: ruff (lint + format), mypy, hadolint on the Dockerfile, actionlint on
# the workflows, shellcheck on the shell scripts. The pull-request workflow calls this same script.
set -euo pipefail
cd "$(dirname "$0")/.."

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy .
.venv/bin/hadolint app/Dockerfile
.venv/bin/actionlint -shellcheck .venv/bin/shellcheck .github/workflows/*.yml
.venv/bin/shellcheck scripts/*.sh bench/run.sh .ci/run
