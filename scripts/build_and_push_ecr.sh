#!/usr/bin/env bash
# Build each service's serving and training images and push them to its ECR repository (or, for
# tests, any OCI registry), never reusing a tag for other contents.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_images.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_images.sh"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [options] [service...]

For each service (default: every entry of services/registry.json), build with
scripts/build_images.sh (docker where its daemon answers, else podman) and push
  <repository base>/<service>:<tag>         serving image
  <repository base>/<service>:<tag>-train   training image (python -m services.<service>.train)
after 'aws ecr get-login-password | docker login' when the registry is ECR.

Tags are immutable and never name two contents. The default tag is the commit
(git rev-parse --short=12 HEAD); when the image sources (Dockerfile, .dockerignore,
pyproject.toml, services/, data/) differ from the commit it is
<commit>-dirty-<first 12 hex of their sha256>, so another change gets another tag.
Every image carries that sha256 as the label $IMAGE_SOURCE_LABEL. A tag already in
the registry is left as it is when its label is the same sha256 (nothing to push),
and refused (exit 1) when it is not.

Options:
  --repository-base URL  <registry host>/<namespace>, e.g.
                         <account>.dkr.ecr.<region>.amazonaws.com/<name>-<env>
                         (default: terraform output ecr_repository_base)
  --region REGION        AWS region (default: AWS_REGION, then terraform output region)
  --tag TAG              image tag (default: see above)
  --no-train             serving images only
  --insecure             the registry speaks plain HTTP (a local test registry)
  --platform PLATFORM    build platform (default: linux/amd64, as Fargate runs)
  --dry-run              print the commands instead of running them
  -h, --help             show this help

A registry whose host is not <account>.dkr.ecr.<region>.amazonaws.com gets no login.
Prints the tag on stdout as its last line (for terraform -var image_tag=...).
USAGE
}

repo_base="" region="" tag="" platform="linux/amd64" dry_run=0 train=1 insecure=0
services=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --repository-base) repo_base="${2:?--repository-base needs a value}"; shift 2 ;;
    --region) region="${2:?--region needs a value}"; shift 2 ;;
    --tag) tag="${2:?--tag needs a value}"; shift 2 ;;
    --platform) platform="${2:?--platform needs a value}"; shift 2 ;;
    --no-train) train=0; shift ;;
    --insecure) insecure=1; shift ;;
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

require_cmd git
digest="$(source_digest "$REPO_ROOT")"
if [[ -z "$tag" ]]; then
  tag="$(git -C "$REPO_ROOT" rev-parse --short=12 HEAD 2>/dev/null)" || die "not a git checkout with a commit; pass --tag"
  if [[ -n "$(sources_changed "$REPO_ROOT")" ]]; then
    tag="$tag-dirty-${digest:0:12}"
    log "warning: the image sources differ from the commit; tagging $tag"
  fi
fi
[[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,121}$ && "$tag" != latest ]] || die "invalid image tag '$tag'"
[[ -n "$repo_base" ]] || repo_base="$(tf_output ecr_repository_base)"
repo_base="${repo_base%/}"
[[ "$repo_base" == */* ]] || die "--repository-base must be <registry host>/<namespace>"
registry_host="${repo_base%%/*}"
namespace="${repo_base#*/}"
ecr=0
[[ "$registry_host" =~ ^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$ ]] && ecr=1

# Run a command, or in --dry-run print it (shell-quoted) instead.
run() {
  if [[ "$dry_run" -eq 1 ]]; then
    printf '%q ' "$@" | sed 's/ $//'
    printf '\n'
  else
    "$@"
  fi
}

resolve_engine
push_args=(push)
[[ "$insecure" -eq 1 && "$CONTAINER_ENGINE" == podman ]] && push_args+=(--tls-verify=false)

password=""
if [[ "$ecr" -eq 1 ]]; then
  region="$(resolve_region "$region")"
  endpoint_args=()
  [[ -n "${AWS_ENDPOINT_URL:-}" ]] && endpoint_args=(--endpoint-url "$AWS_ENDPOINT_URL")
  if [[ "$dry_run" -eq 1 ]]; then
    printf 'aws%s ecr get-login-password --region %q | %s login --username AWS --password-stdin %q\n' \
      "${endpoint_args[*]:+ ${endpoint_args[*]}}" "$region" "$CONTAINER_ENGINE" "$registry_host"
  else
    require_cmd aws
    password="$(aws "${endpoint_args[@]}" ecr get-login-password --region "$region")"
    engine login --username AWS --password-stdin "$registry_host" <<<"$password" >&2
  fi
fi

# The source label of <repository>:<tag> in the registry, through the registry API (no pull);
# "ABSENT" when the tag does not exist. Exits non-zero when the registry cannot be asked.
remote_source_label() {
  REGISTRY_PASSWORD="$password" python3 - "$1" "$2" "$3" "$IMAGE_SOURCE_LABEL" <<'PY'
import base64, json, os, sys, urllib.error, urllib.request
base, repository, tag, label = sys.argv[1:]
password = os.environ.get("REGISTRY_PASSWORD")
MANIFESTS = ", ".join(["application/vnd.oci.image.index.v1+json",
                       "application/vnd.docker.distribution.manifest.list.v2+json",
                       "application/vnd.oci.image.manifest.v1+json",
                       "application/vnd.docker.distribution.manifest.v2+json"])

def get(path, accept):
    req = urllib.request.Request(f"{base}/v2/{repository}/{path}", headers={"Accept": accept})
    if password:  # ECR: basic auth with the login password; never forwarded to a blob redirect
        req.add_unredirected_header("Authorization", "Basic " + base64.b64encode(f"AWS:{password}".encode()).decode())
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())

try:
    manifest = get(f"manifests/{tag}", MANIFESTS)
except urllib.error.HTTPError as err:
    if err.code == 404:
        print("ABSENT")
        sys.exit(0)
    sys.exit(f"{base}/v2/{repository}/manifests/{tag}: HTTP {err.code}")
if "manifests" in manifest:  # an index: the linux/amd64 image
    (entry,) = [m for m in manifest["manifests"]
                if m.get("platform", {}).get("os") == "linux" and m["platform"].get("architecture") == "amd64"]
    manifest = get(f"manifests/{entry['digest']}", MANIFESTS)
config = get(f"blobs/{manifest['config']['digest']}", "*/*")
print((config.get("config") or {}).get("Labels", {}).get(label, ""))
PY
}

scheme=https
[[ "$insecure" -eq 1 ]] && scheme=http
build_flags=(--repository-base "$repo_base" --tag "$tag" --platform "$platform")
[[ "$train" -eq 1 ]] && build_flags+=(--train)
for svc in "${services[@]}"; do
  images=("$repo_base/$svc:$tag")
  [[ "$train" -eq 1 ]] && images+=("$repo_base/$svc:$tag-train")
  if [[ "$dry_run" -eq 0 ]]; then
    present=0
    for image in "${images[@]}"; do
      remote="$(remote_source_label "$scheme://$registry_host" "$namespace/$svc" "${image##*:}")" \
        || die "[$svc] could not read ${image##*/} from the registry"
      if [[ "$remote" == ABSENT ]]; then
        continue
      elif [[ "$remote" == "$digest" ]]; then
        present=$((present + 1))
      else
        die "[$svc] $image already exists with other contents (sources ${remote:-unlabelled}, here $digest): tags are immutable and never reused; commit the change or pass another --tag"
      fi
    done
    if [[ "$present" -eq ${#images[@]} ]]; then
      log "[$svc] ${images[*]} already in the registry, built from these sources; nothing to push"
      continue
    fi
  fi
  # build_images.sh labels each image with the same sources digest (lib_images.sh).
  if [[ "$dry_run" -eq 1 ]]; then
    CONTAINER_ENGINE="$CONTAINER_ENGINE" bash "$REPO_ROOT/scripts/build_images.sh" --dry-run "${build_flags[@]}" "$svc"
  else
    CONTAINER_ENGINE="$CONTAINER_ENGINE" bash "$REPO_ROOT/scripts/build_images.sh" "${build_flags[@]}" "$svc" >/dev/null
  fi
  for image in "${images[@]}"; do
    if [[ "$dry_run" -eq 0 ]]; then
      built="$(engine image inspect --format "{{ index .Config.Labels \"$IMAGE_SOURCE_LABEL\" }}" "$image")"
      [[ "$built" == "$digest" ]] || die "[$svc] the sources changed during the build ($built, not $digest); run again"
    fi
    run "${ENGINE[@]}" "${push_args[@]}" "$image"
  done
done

printf '%s\n' "$tag"
