#!/usr/bin/env bash
# Make the local base image the tests build on, since no registry can be reached here
# (python:3.12-slim cannot be pulled). A minimal Debian bookworm from debootstrap with
# python3 + venv, imported with `docker import`. The machine's CA bundle is copied in so
# that `pip install` inside `docker build` trusts the same certificates the host does.
# Idempotent: does nothing when the image already exists. Prints the image name.
# BASE_IMAGE_SUITE, BASE_IMAGE_TAG and BASE_IMAGE_PACKAGES make other local bases the same way (the tests'
# nginx front image: Debian testing with nginx, tests/support/images.py).
set -euo pipefail

image=${BASE_IMAGE_TAG:-microservice-model-base:bookworm}
suite=${BASE_IMAGE_SUITE:-bookworm}
packages=${BASE_IMAGE_PACKAGES:-python3,python3-venv,ca-certificates}
ca_bundle=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

if docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi

for tool in debootstrap docker; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$tool not found: install it (Debian: apt-get install -y debootstrap docker.io)" >&2
    exit 1
  fi
done
if [ ! -r "$ca_bundle" ]; then
  echo "CA bundle $ca_bundle not readable: set CA_BUNDLE to the machine's certificate bundle" >&2
  exit 1
fi

rootfs=$(mktemp -d /tmp/base-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT

# No mirror argument: debootstrap uses its own default, as every client here should.
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" >&2
cp "$ca_bundle" "$rootfs/etc/ssl/certs/ca-certificates.crt"
# Slim it like python:*-slim: no apt lists, docs or caches in the base layer.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*

# python:3.12-slim puts `python` on PATH; make the local base match so one Dockerfile serves both.
if [ -e "$rootfs/usr/bin/python3" ]; then
  ln -sf python3 "$rootfs/usr/bin/python"
fi

tar -C "$rootfs" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["python3"]' \
  - "$image" >/dev/null
echo "$image"
