#!/usr/bin/env bash
# The whole test suite, from a fresh machine: set up (scripts/bootstrap.sh), start what the tests
# need (Docker engine, PostgreSQL, the local base image), build the real Pulumi engine and its
# Kubernetes provider from Go modules (scripts/engine-tools.sh: cached outside the repository, so
# only the first run is slow; docs/engine.md), then run pytest over tests/.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/program -k settings`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
bash scripts/dockerd-up.sh
bash scripts/postgres-up.sh >/dev/null
bash scripts/base-image.sh >/dev/null
bash scripts/engine-tools.sh

exec .venv/bin/pytest "$@"
