#!/usr/bin/env bash
# Run the benchmarks (docs/benchmarks.md says what they measure). Arguments go to `python -m bench`:
#   bash bench/run.sh --quick                 # CI smoke: every section once, briefly; writes to a temp dir
#   bash bench/run.sh                         # full run: docs/bench-serving-*.png, bench/results/full-<sections>.{md,json}
#   bash bench/run.sh --only serving deploy   # some sections (image serving deploy program front)
# Needs root (dockerd, PostgreSQL), wrk (apt-get install -y wrk) and the dev virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
  echo "wrk not found: install it (Debian: apt-get install -y wrk)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo ".venv missing: run scripts/bootstrap.sh first" >&2
  exit 1
fi
exec .venv/bin/python -m bench "$@"
