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
# app/requirements.txt pins psycopg's C implementation (psycopg-c), built here from source against
# the system's libpq: it needs pg_config (libpq's headers) and a C compiler.
for tool in pg_config cc; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$tool not found: psycopg-c builds against libpq; install libpq's headers and a C compiler" \
      "(Debian: apt-get install -y libpq-dev gcc python3-dev)" >&2
    exit 1
  fi
done
.venv/bin/uv pip install -q --python .venv/bin/python \
  -r requirements.txt -r app/requirements.txt -r requirements-dev.txt
