#!/usr/bin/env bash
# Build each service's image and push it to its ECR repository.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [options] [service...]

For each service (default: every entry of services/registry.json):
  docker build --build-arg SERVICE=<service> --build-arg PORT=<port> .
  (the repository root's Dockerfile, with the service's registry port)
  tag it <repository base>/<service>:<git revision>
and push it after 'aws ecr get-login-password | docker login'. Repositories
are immutable: a tag that is already in ECR is not pushed again.

Options:
  --repository-base URL  <account>.dkr.ecr.<region>.amazonaws.com/<name>-<env>
                         (default: terraform output ecr_repository_base)
  --region REGION        AWS region (default: AWS_REGION, then terraform output region)
  --tag TAG              image tag (default: git rev-parse --short=12 HEAD,
                         with -dirty appended when the work tree has changes)
  --platform PLATFORM    docker build platform (default: linux/amd64, as Fargate runs)
  --dry-run              print the commands instead of running them
  -h, --help             show this help

Prints the pushed tag on stdout as its last line (for terraform -var image_tag=...).
USAGE
}

repo_base="" region="" tag="" platform="linux/amd64" dry_run=0
services=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --repository-base) repo_base="${2:?--repository-base needs a value}"; shift 2 ;;
    --region) region="${2:?--region needs a value}"; shift 2 ;;
    --tag) tag="${2:?--tag needs a value}"; shift 2 ;;
    --platform) platform="${2:?--platform needs a value}"; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; die "unknown option $1" ;;
    *) services+=("$1"); shift ;;
  esac
done

require_cmd python3
if [[ ${#services[@]} -eq 0 ]]; then
  mapfile -t services < <(registry_services)
else
  check_services "${services[@]}"
fi

if [[ -z "$tag" ]]; then
  require_cmd git
  tag="$(git -C "$REPO_ROOT" rev-parse --short=12 HEAD 2>/dev/null)" || die "not a git checkout with a commit; pass --tag"
  if [[ -n "$(git -C "$REPO_ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
    log "warning: the work tree has uncommitted changes; tagging $tag-dirty"
    tag="$tag-dirty"
  fi
fi
[[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ && "$tag" != latest ]] || die "invalid image tag '$tag'"
[[ -n "$repo_base" ]] || repo_base="$(tf_output ecr_repository_base)"
repo_base="${repo_base%/}"
[[ "$repo_base" == */* ]] || die "--repository-base must be <registry host>/<namespace>"
registry_host="${repo_base%%/*}"
namespace="${repo_base#*/}"
region="$(resolve_region "$region")"

# Run a command, or in --dry-run print it (shell-quoted) instead.
run() {
  if [[ "$dry_run" -eq 1 ]]; then
    printf '%q ' "$@" | sed 's/ $//'
    printf '\n'
  else
    "$@"
  fi
}

endpoint_args=()
[[ -n "${AWS_ENDPOINT_URL:-}" ]] && endpoint_args=(--endpoint-url "$AWS_ENDPOINT_URL")

if [[ "$dry_run" -eq 1 ]]; then
  printf 'aws%s ecr get-login-password --region %q | docker login --username AWS --password-stdin %q\n' \
    "${endpoint_args[*]:+ ${endpoint_args[*]}}" "$region" "$registry_host"
else
  require_cmd aws
  require_cmd docker
  aws "${endpoint_args[@]}" ecr get-login-password --region "$region" \
    | docker login --username AWS --password-stdin "$registry_host"
fi

revision="$(git -C "$REPO_ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
for svc in "${services[@]}"; do
  image="$repo_base/$svc:$tag"

  if [[ "$dry_run" -eq 0 ]] && aws "${endpoint_args[@]}" ecr describe-images --region "$region" \
    --repository-name "$namespace/$svc" --image-ids "imageTag=$tag" >/dev/null 2>&1; then
    log "[$svc] $image is already in ECR (tags are immutable); skipping"
    continue
  fi

  run docker build --platform "$platform" -f "$REPO_ROOT/Dockerfile" \
    --build-arg "SERVICE=$svc" --build-arg "PORT=$(registry_field "$svc" port)" \
    --label "org.opencontainers.image.revision=$revision" \
    --label "org.opencontainers.image.title=$svc" \
    -t "$image" "$REPO_ROOT"
  run docker push "$image"
done

printf '%s\n' "$tag"
