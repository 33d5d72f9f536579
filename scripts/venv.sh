#!/usr/bin/env bash
# The project virtualenv (.venv) with the three pinned locks: the program, the service and the
# tests/tools. Idempotent. Used by scripts/bootstrap.sh here and by the GitHub workflows, where the
# runner already has the system tools.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
if [ ! -x .venv/bin/uv ]; then
  .venv/bin/python -m pip install -q uv==0.13.8
fi
.venv/bin/uv pip install -q --python .venv/bin/python \
  -r requirements.txt -r app/requirements.txt -r requirements-dev.txt
