#!/usr/bin/env bash
# Run the benchmarks (docs/benchmarks.md says what they measure). Arguments go to `python -m bench`:
#   bash bench/run.sh --quick                 # CI smoke: every section once, briefly; writes to a temp dir
#   bash bench/run.sh                         # full run: docs/bench-serving-*.png, bench/results/full-<sections>.{md,json}
#   bash bench/run.sh --only serving deploy   # some sections (image serving deploy program front)
# Needs root (dockerd, PostgreSQL), wrk and hey (apt-get install -y wrk hey) and the dev virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in wrk hey; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$tool not found: install it (Debian: apt-get install -y $tool)" >&2
    exit 1
  fi
done
if [ ! -x .venv/bin/python ]; then
  echo ".venv missing: run scripts/bootstrap.sh first" >&2
  exit 1
fi
exec .venv/bin/python -m bench "$@"
