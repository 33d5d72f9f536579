#!/usr/bin/env bash
# The whole test suite, from a fresh machine: set up (scripts/bootstrap.sh), start what the tests
# need (Docker engine, PostgreSQL, the local base image), then run pytest over tests/.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/program -k settings`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
bash scripts/dockerd-up.sh
bash scripts/postgres-up.sh >/dev/null
bash scripts/base-image.sh >/dev/null

exec .venv/bin/pytest "$@"
