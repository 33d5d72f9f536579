#!/usr/bin/env bash
# One command from a fresh machine to a running `test` stack on the local Docker engine:
# system tools + virtualenv (bootstrap.sh), the Docker engine, the Pulumi CLI (official installer),
# a local Pulumi backend in .pulumi/, a generated secret key, then `pulumi up -s test`.
# Extra arguments go to `pulumi up` (e.g. --diff). STACK=prod works too once its secrets are set.
set -euo pipefail
cd "$(dirname "$0")/.."
stack=${STACK:-test}

bash scripts/bootstrap.sh
bash scripts/dockerd-up.sh

export PATH="$HOME/.pulumi/bin:$PATH"
if ! command -v pulumi >/dev/null 2>&1; then
  echo "Pulumi CLI not found; installing it with the official installer (https://www.pulumi.com/docs/install/)" >&2
  if ! curl -fsSL https://get.pulumi.com | sh >&2; then
    cat >&2 <<'MSG'
Could not install the Pulumi CLI (no route to get.pulumi.com from this machine?).
Install it the normal way, then run this script again:
  curl -fsSL https://get.pulumi.com | sh          # Linux/macOS, into ~/.pulumi/bin
  brew install pulumi/tap/pulumi                   # macOS with Homebrew
Without the CLI, the same program can still be checked here: bash scripts/test.sh tests/program tests/deploy
MSG
    exit 1
  fi
fi

# A local backend inside the checkout: state in .pulumi/ (git-ignored), secrets encrypted with a
# passphrase. Keep the generated passphrase file, or set PULUMI_CONFIG_PASSPHRASE yourself.
mkdir -p .pulumi
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  if [ ! -s .pulumi/passphrase ]; then
    (umask 077 && .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))' > .pulumi/passphrase)
    echo "generated a passphrase for the local backend's secrets in .pulumi/passphrase" >&2
  fi
  export PULUMI_CONFIG_PASSPHRASE_FILE="$PWD/.pulumi/passphrase"
fi
pulumi login "file://$PWD/.pulumi" >&2
pulumi stack select --create "$stack" >&2

if [ "$stack" = test ] && ! pulumi config get secretKey >/dev/null 2>&1; then
  .venv/bin/python -c 'import secrets; print(secrets.token_hex(32))' | pulumi config set --secret secretKey >&2
fi

pulumi up --stack "$stack" --yes "$@"
pulumi stack output --stack "$stack"
