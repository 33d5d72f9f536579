#!/usr/bin/env bash
# Start a Docker engine for the tests if none answers yet. Idempotent: safe to call from CI,
# from the test command and from a developer's shell. Needs root (as on our CI machines).
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "dockerd not found: install the Docker engine (Debian: apt-get install -y docker.io)" >&2
  exit 1
fi

log=${DOCKERD_LOG:-/var/log/dockerd-tests.log}
# setsid: the engine must outlive the shell (and the pytest session) that started it.
setsid dockerd --storage-driver=overlay2 >"$log" 2>&1 < /dev/null &

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "dockerd did not answer within 60 s; its log is $log:" >&2
tail -n 30 "$log" >&2
exit 1
