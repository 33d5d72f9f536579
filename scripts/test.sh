#!/usr/bin/env bash
# The whole test suite, from a fresh machine: set up (scripts/bootstrap.sh), start what the tests
# need (Docker engine, PostgreSQL, the local base image), build the real Pulumi engine, its
# Kubernetes provider and a local Kubernetes control plane from Go modules (scripts/engine-tools.sh
# --cluster: cached outside the repository, so only the first run is slow, about 40 min on 2 cores;
# docs/engine.md), then run pytest over tests/.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/program -k settings`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
bash scripts/dockerd-up.sh
bash scripts/postgres-up.sh >/dev/null
bash scripts/base-image.sh >/dev/null
bash scripts/engine-tools.sh --cluster

exec .venv/bin/pytest "$@"
