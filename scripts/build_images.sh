#!/usr/bin/env bash
# Build the serving image (and with --train the training image) of registry services.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_images.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_images.sh"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [options] [service...]

For each service (default: every entry of services/registry.json), build from the
repository root's Dockerfile:
  <repository base>/<service>:<tag>         serving image (--build-arg SERVICE, PORT)
  <repository base>/<service>:<tag>-train   training image (--target train), with --train
With podman, the local stand-in base image is made first when missing
(scripts/base_image.sh). Prints each built image reference on stdout (the build's own
output goes to stderr).

Options:
  --repository-base BASE  image name prefix (default: localhost/mlplat)
  --tag TAG               image tag (default: local)
  --train                 also build the training images
  --platform PLATFORM     build platform (default: linux/amd64, as Fargate runs)
  --label KEY=VALUE       extra image label (repeatable)
  --dry-run               print the build commands instead of running them
  -h, --help              show this help

Environment: CONTAINER_ENGINE (docker or podman; default docker where present, else
podman), PODMAN_FLAGS (global podman flags; default: --runtime runc --cgroup-manager=cgroupfs).
USAGE
}

repo_base="localhost/mlplat" tag="local" train=0 platform="linux/amd64" dry_run=0
labels=() services=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --repository-base) repo_base="${2:?--repository-base needs a value}"; shift 2 ;;
    --tag) tag="${2:?--tag needs a value}"; shift 2 ;;
    --train) train=1; shift ;;
    --platform) platform="${2:?--platform needs a value}"; shift 2 ;;
    --label) labels+=(--label "${2:?--label needs KEY=VALUE}"); shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; die "unknown option $1" ;;
    *) services+=("$1"); shift ;;
  esac
done
repo_base="${repo_base%/}"
[[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,121}$ && "$tag" != latest ]] || die "invalid image tag '$tag'"

require_cmd python3
if [[ ${#services[@]} -eq 0 ]]; then
  mapfile -t services < <(registry_services)
else
  check_services "${services[@]}"
fi

# Run a command (its output to stderr: stdout lists the images), or in --dry-run print it
# (shell-quoted) on stdout instead.
exec 4>&1
run() {
  if [[ "$dry_run" -eq 1 ]]; then
    printf '%q ' "$@" | sed 's/ $//' >&4
    printf '\n' >&4
  else
    "$@"
  fi
}

resolve_engine
[[ "$dry_run" -eq 1 ]] || require_cmd "$CONTAINER_ENGINE"
build_args=(build --platform "$platform" -f "$REPO_ROOT/Dockerfile")
if [[ "$CONTAINER_ENGINE" == podman ]]; then
  run bash "$REPO_ROOT/scripts/base_image.sh" >&2
  # No registry is reachable for the base (--pull=never); the network only for pip, which
  # trusts the host's certificates; the docker format keeps HEALTHCHECK, as docker build does.
  build_args+=(--pull=never --format docker --network=host -v /etc/ssl/certs:/etc/ssl/certs:ro
    --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
fi
revision="$(git -C "$REPO_ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
digest="$(source_digest "$REPO_ROOT")"
build_args+=(--label "org.opencontainers.image.revision=$revision" --label "$IMAGE_SOURCE_LABEL=$digest" "${labels[@]}")

for svc in "${services[@]}"; do
  port="$(registry_field "$svc" port)"
  image="$repo_base/$svc:$tag"
  started=$SECONDS
  run "${ENGINE[@]}" "${build_args[@]}" --build-arg "SERVICE=$svc" --build-arg "PORT=$port" \
    --label "org.opencontainers.image.title=$svc" -t "$image" "$REPO_ROOT" >&2
  [[ "$dry_run" -eq 1 ]] || { log "[$svc] built $image in $((SECONDS - started))s"; printf '%s\n' "$image"; }
  if [[ "$train" -eq 1 ]]; then
    started=$SECONDS
    run "${ENGINE[@]}" "${build_args[@]}" --target train --build-arg "SERVICE=$svc" \
      --label "org.opencontainers.image.title=$svc-train" -t "$image-train" "$REPO_ROOT" >&2
    [[ "$dry_run" -eq 1 ]] || { log "[$svc] built $image-train in $((SECONDS - started))s"; printf '%s\n' "$image-train"; }
  fi
done
