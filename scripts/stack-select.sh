#!/usr/bin/env bash
# For the GitHub workflows: log in to PULUMI_BACKEND_URL, select (or create) STACK, and set its
# secrets from the environment, each only when the repository has it (SECRET_KEY, DATABASE_URL,
# REGISTRY_PASSWORD; KUBECONFIG_CONTENT is written to a file the stack's `kubeconfig` names).
# Values go through stdin, never the command line, so they show in no process list or log.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${PULUMI_BACKEND_URL:?set PULUMI_BACKEND_URL (a file://, s3:// or Pulumi Cloud URL)}"
: "${STACK:?set STACK (test or prod, optionally ORG/test)}"

case "$PULUMI_BACKEND_URL" in file://*) mkdir -p "${PULUMI_BACKEND_URL#file://}" ;; esac
pulumi login "$PULUMI_BACKEND_URL"
pulumi stack select --create "$STACK"

set_secret() { # key, value
  if [ -n "$2" ]; then printf '%s' "$2" | pulumi config set --secret "$1"; fi
}
set_secret secretKey "${SECRET_KEY:-}"
set_secret databaseUrl "${DATABASE_URL:-}"
set_secret registryPassword "${REGISTRY_PASSWORD:-}"
if [ -n "${KUBECONFIG_CONTENT:-}" ]; then
  kubeconfig="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/kubeconfig"
  (umask 077 && printf '%s' "$KUBECONFIG_CONTENT" > "$kubeconfig")
  pulumi config set kubeconfig "$kubeconfig"
fi
