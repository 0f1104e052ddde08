#!/usr/bin/env bash
# Publish local model versions to the S3 model store.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [options] [service...]

Copy model versions from the local file store (<store>/<service>/<version>/)
to s3://<bucket>/models/<service>/<version>/, download every file again and
check its sha256 against the version's manifest.json, and only then write
s3://<bucket>/models/<service>/LATEST. A version whose checksums fail leaves
LATEST untouched. Services default to every entry of services/registry.json
that has versions in the local store.

LATEST is set to --version if given, else to the local store's
<service>/LATEST, else to the last version in version-sort order.

Options:
  --bucket NAME     models bucket (default: terraform output models_bucket)
  --region REGION   AWS region (default: AWS_REGION, then terraform output region)
  --store DIR       local model store (default: var/models)
  --version V       publish only this version (and point LATEST at it)
  --no-latest       upload and verify, but do not touch LATEST
  -h, --help        show this help

AWS_ENDPOINT_URL, when set, sends every call to that S3-compatible endpoint.
USAGE
}

bucket="" region="" store="$REPO_ROOT/var/models" only_version="" set_latest=1
services=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bucket) bucket="${2:?--bucket needs a value}"; shift 2 ;;
    --region) region="${2:?--region needs a value}"; shift 2 ;;
    --store) store="${2:?--store needs a value}"; shift 2 ;;
    --version) only_version="${2:?--version needs a value}"; shift 2 ;;
    --no-latest) set_latest=0; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; die "unknown option $1" ;;
    *) services+=("$1"); shift ;;
  esac
done

require_cmd aws
require_cmd python3
[[ -d "$store" ]] || die "model store '$store' does not exist (train a model first, or pass --store)"
[[ -n "$only_version" ]] && check_segment version "$only_version"
[[ -n "$bucket" ]] || bucket="$(tf_output models_bucket)"
use_region "$region"

if [[ ${#services[@]} -eq 0 ]]; then
  while IFS= read -r svc; do
    [[ -d "$store/$svc" ]] && services+=("$svc")
  done < <(registry_services)
  [[ ${#services[@]} -gt 0 ]] || die "no registry service has versions under $store"
else
  check_services "${services[@]}"
fi

# Upload one version: the manifest's files first, manifest.json last, then
# read the version folder back from S3 and compare every sha256 with the
# manifest. (One recursive copy each way keeps this to a few CLI calls.)
publish_version() {
  local svc="$1" version="$2" dir="$3" prefix="$4" manifest="$3/manifest.json"
  local listing expected name check_dir actual bad=0 includes=()

  log "[$svc] $version: checking local files against manifest.json"
  verify_version_dir "$dir" "$manifest" || die "[$svc] $version: local files do not match manifest.json; nothing uploaded"
  listing="$(manifest_files "$manifest")"
  while IFS=$'\t' read -r _ name; do
    includes+=(--include "$name")
  done <<<"$listing"

  log "[$svc] $version: uploading to s3://$bucket/$prefix/$version/"
  aws_cli s3 cp --only-show-errors --recursive --exclude "*" "${includes[@]}" \
    "$dir/" "s3://$bucket/$prefix/$version/"
  aws_cli s3 cp --only-show-errors --content-type application/json \
    "$manifest" "s3://$bucket/$prefix/$version/manifest.json"

  log "[$svc] $version: verifying sha256 of the uploaded objects"
  check_dir="$(mktemp -d)"
  aws_cli s3 cp --only-show-errors --recursive --exclude "*" "${includes[@]}" \
    "s3://$bucket/$prefix/$version/" "$check_dir/"
  while IFS=$'\t' read -r expected name; do
    if [[ ! -f "$check_dir/$name" ]]; then
      log "[$svc] $version: $name is missing from s3://$bucket/$prefix/$version/"
      bad=1
      continue
    fi
    actual="$(sha256_of "$check_dir/$name")"
    if [[ "$actual" != "$expected" ]]; then
      log "[$svc] $version: uploaded $name has sha256 $actual, manifest says $expected"
      bad=1
    fi
  done <<<"$listing"
  rm -rf "$check_dir"
  [[ "$bad" -eq 0 ]] || die "[$svc] $version: checksum verification failed; LATEST not changed"
}

for svc in "${services[@]}"; do
  svc_dir="$store/$svc"
  prefix="$(registry_field "$svc" model_prefix)"
  [[ -d "$svc_dir" ]] || die "[$svc] no local versions under $svc_dir"

  versions=()
  if [[ -n "$only_version" ]]; then
    versions=("$only_version")
  else
    while IFS= read -r v; do
      versions+=("$v")
    done < <(find "$svc_dir" -mindepth 2 -maxdepth 2 -name manifest.json -printf '%h\n' | xargs -r -n1 basename | sort -V)
  fi
  [[ ${#versions[@]} -gt 0 ]] || die "[$svc] no version folder with a manifest.json under $svc_dir"

  for version in "${versions[@]}"; do
    check_segment version "$version"
    [[ -f "$svc_dir/$version/manifest.json" ]] || die "[$svc] $svc_dir/$version/manifest.json not found"
    publish_version "$svc" "$version" "$svc_dir/$version" "$prefix"
  done

  if [[ "$set_latest" -eq 1 ]]; then
    if [[ -n "$only_version" ]]; then
      latest="$only_version"
    elif [[ -f "$svc_dir/LATEST" ]]; then
      latest="$(tr -d '[:space:]' <"$svc_dir/LATEST")"
    else
      latest="${versions[-1]}"
    fi
    check_segment version "$latest"
    [[ -f "$svc_dir/$latest/manifest.json" ]] || die "[$svc] LATEST would be '$latest', which is not a local version"
    # LATEST goes last: by now every uploaded version has been verified.
    printf '%s' "$latest" | aws_cli s3 cp --only-show-errors --content-type text/plain \
      - "s3://$bucket/$prefix/LATEST"
    log "[$svc] LATEST -> $latest"
  fi
done
