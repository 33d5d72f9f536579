#!/usr/bin/env bash
# Recompile the three lock files from their .in files (exact pins for every transitive package).
set -euo pipefail
cd "$(dirname "$0")/.."
uv=${UV:-.venv/bin/uv}
common=(--python-version 3.11 --no-header --quiet)
"$uv" pip compile "${common[@]}" --universal app/requirements.in -o app/requirements.txt
"$uv" pip compile "${common[@]}" requirements.in -o requirements.txt
"$uv" pip compile "${common[@]}" requirements-dev.in -o requirements-dev.txt
