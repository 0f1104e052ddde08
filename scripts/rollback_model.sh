#!/usr/bin/env bash
# Point a service's LATEST at a model version that is already in the store.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [options] <service> <version>

Roll a service back (or forward) to a published model version: check that
s3://<bucket>/models/<service>/<version>/manifest.json exists, names that
service and version, and that every file it lists is in the version folder,
then write models/<service>/LATEST. Running tasks pick the version up at their
next poll (MODEL_REFRESH_SECONDS); no restart.

Options:
  --bucket NAME     models bucket (default: terraform output models_bucket)
  --region REGION   AWS region (default: AWS_REGION, then terraform output region)
  -h, --help        show this help

AWS_ENDPOINT_URL, when set, sends every call to that S3-compatible endpoint.
USAGE
}

bucket="" region=""
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bucket) bucket="${2:?--bucket needs a value}"; shift 2 ;;
    --region) region="${2:?--region needs a value}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; die "unknown option $1" ;;
    *) args+=("$1"); shift ;;
  esac
done
[[ ${#args[@]} -eq 2 ]] || { usage >&2; die "expected <service> <version>"; }
svc="${args[0]}" version="${args[1]}"

require_cmd aws
require_cmd python3
check_services "$svc"
check_segment version "$version"
[[ -n "$bucket" ]] || bucket="$(tf_output models_bucket)"
use_region "$region"

prefix="$(registry_field "$svc" model_prefix)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

aws_cli s3 cp --only-show-errors "s3://$bucket/$prefix/$version/manifest.json" "$work/manifest.json" 2>/dev/null \
  || die "s3://$bucket/$prefix/$version/manifest.json not found: '$version' is not a published version of $svc"

python3 - "$work/manifest.json" "$svc" "$version" <<'PY' || die "manifest of $svc $version does not match"
import json, sys
path, svc, version = sys.argv[1:]
with open(path, encoding="utf-8") as f:
    manifest = json.load(f)
for key, want in (("service", svc), ("version", version)):
    if key in manifest and str(manifest[key]) != want:
        sys.exit(f"manifest.json says {key}={manifest[key]!r}, expected {want!r}")
PY

listing="$(manifest_files "$work/manifest.json")" || die "manifest of $svc $version has no valid files map"
present="$(aws_cli s3 ls "s3://$bucket/$prefix/$version/" | awk '{print $4}')"
while IFS=$'\t' read -r _sha name; do
  grep -qxF -- "$name" <<<"$present" \
    || die "s3://$bucket/$prefix/$version/$name is missing; refusing to roll back to an incomplete version"
done <<<"$listing"

previous="$(aws_cli s3 cp --only-show-errors "s3://$bucket/$prefix/LATEST" - 2>/dev/null || true)"
printf '%s' "$version" | aws_cli s3 cp --only-show-errors --content-type text/plain - "s3://$bucket/$prefix/LATEST"
log "[$svc] LATEST: ${previous:-<none>} -> $version"
