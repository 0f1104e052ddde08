#!/usr/bin/env bash
# Make the local stand-in for docker.io/library/python:3.11-slim-bookworm when podman
# does not have it (no registry can be reached here): Debian bookworm's own Python 3.11
# from debootstrap, with a venv at /usr/local/py first on PATH so `python` and `pip`
# exist as in the official image. Idempotent: an image that exists is left alone, so
# podman storage caches it between runs on one machine.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: $(basename "$0") [--force] [--mirror URL]

  --force        rebuild even when the image exists
  --mirror URL   Debian mirror for debootstrap (default: http://deb.debian.org/debian)

Environment: BASE_IMAGE (default docker.io/library/python:3.11-slim-bookworm).
USAGE
}

image="${BASE_IMAGE:-docker.io/library/python:3.11-slim-bookworm}"
rootfs_image="localhost/debian-python:bookworm"
mirror="http://deb.debian.org/debian"
force=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --force) force=1; shift ;;
    --mirror) mirror="${2:?--mirror needs a value}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; printf 'error: unknown argument %s\n' "$1" >&2; exit 1 ;;
  esac
done

# The flags this sandbox needs on every podman call (../shared/containers.md).
pm() { podman --runtime runc --cgroup-manager=cgroupfs "$@"; }

if [[ "$force" -eq 0 ]] && pm image exists "$image"; then
  printf 'base image %s: present\n' "$image"
  exit 0
fi
for cmd in podman debootstrap; do
  command -v "$cmd" >/dev/null 2>&1 || { printf 'error: %s is not installed (apt-get install podman runc debootstrap)\n' "$cmd" >&2; exit 1; }
done

started=$SECONDS
if [[ "$force" -eq 1 ]] || ! pm image exists "$rootfs_image"; then
  rootfs="$(mktemp -d /var/tmp/debian-python.XXXXXX)"
  trap 'rm -rf "$rootfs"' EXIT
  printf 'debootstrap bookworm (minbase + python3) into %s\n' "$rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
    || { tail -n 30 "$rootfs.log" >&2; rm -f "$rootfs.log"; exit 1; }
  rm -f "$rootfs.log"
  # What a slim image leaves out: package caches, documentation, man pages, locales.
  rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*
  tar -C "$rootfs" --numeric-owner -c . | pm import --quiet --message "debootstrap bookworm minbase + python3" - "$rootfs_image" >/dev/null
fi

context="$(mktemp -d)"
trap 'rm -rf "${rootfs:-}" "$context"' EXIT
cat >"$context/Containerfile" <<CONTAINERFILE
FROM $rootfs_image
RUN python3 -m venv /usr/local/py && /usr/local/py/bin/python -m pip --version
ENV PATH=/usr/local/py/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    LANG=C.UTF-8
CMD ["python3"]
CONTAINERFILE
pm build --pull=never --network=host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
  -t "$image" "$context" >/dev/null
printf 'base image %s: built in %ss\n' "$image" "$((SECONDS - started))"
