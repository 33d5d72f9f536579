#!/usr/bin/env bash
# Set up a fresh machine for this repository: the system tools the tests and the local deploy use
# (Docker engine, debootstrap, PostgreSQL, wrk, hey, make, jq) when they are missing, and the project virtualenv
# (.venv, scripts/venv.sh) with the pinned program, service and test dependencies. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)
command -v pg_lsclusters >/dev/null 2>&1 || need_apt+=(postgresql)
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
command -v hey >/dev/null 2>&1 || need_apt+=(hey)  # bench/front_bench.py: load at a fixed rate
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
command -v make >/dev/null 2>&1 || need_apt+=(make)
command -v jq >/dev/null 2>&1 || need_apt+=(jq)
# psycopg-c (app/requirements.txt) is built against libpq in the venv.
command -v pg_config >/dev/null 2>&1 || need_apt+=(libpq-dev)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc python3-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "missing system packages: ${need_apt[*]}; install them (Debian: sudo apt-get install -y ${need_apt[*]})" >&2
    exit 1
  fi
  echo "installing system packages: ${need_apt[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

bash scripts/venv.sh
