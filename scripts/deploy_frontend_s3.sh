#!/usr/bin/env bash
# Publish the static UI to the website bucket, pointed at the API.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [options]

Copy frontend/ to a staging folder, write its config.js with
  window.API_BASE_URL = "<api url>";
and sync it to the website bucket: the pinned vendor/ libraries with a long
max-age first, then everything else (HTML, config.js and the app's own JS and
CSS, whose names do not change between releases) with Cache-Control no-cache,
so a new release and a new API URL are seen at once (ETags keep the recheck
cheap), then delete objects no longer in frontend/. Behind CloudFront, an
invalidation of /* follows, so the edge caches drop the old release at once.

Options:
  --bucket NAME        website bucket (default: terraform output website_bucket)
  --api-url URL        API base URL (default: terraform output api_base_url)
  --distribution-id ID CloudFront distribution to invalidate (default: terraform
                       output cloudfront_distribution_id when --bucket is not
                       given; none in the S3 website mode)
  --region REGION      AWS region (default: AWS_REGION, then terraform output region)
  --frontend DIR       static site to publish (default: frontend/)
  --asset-max-age SEC  Cache-Control max-age of the pinned vendor/ libraries
                       (default: 604800, one week)
  --stage-only DIR     write the staged site to DIR and upload nothing
  -h, --help           show this help

AWS_ENDPOINT_URL, when set, sends every call to that S3-compatible endpoint.
USAGE
}

bucket="" api_url="" region="" frontend="$REPO_ROOT/frontend" max_age=604800 stage_only="" distribution=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bucket) bucket="${2:?--bucket needs a value}"; shift 2 ;;
    --api-url) api_url="${2:?--api-url needs a value}"; shift 2 ;;
    --distribution-id) distribution="${2:?--distribution-id needs a value}"; shift 2 ;;
    --region) region="${2:?--region needs a value}"; shift 2 ;;
    --frontend) frontend="${2:?--frontend needs a value}"; shift 2 ;;
    --asset-max-age) max_age="${2:?--asset-max-age needs a value}"; shift 2 ;;
    --stage-only) stage_only="${2:?--stage-only needs a value}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument $1" ;;
  esac
done

[[ -f "$frontend/index.html" ]] || die "$frontend/index.html not found; is --frontend the static site folder?"
[[ "$max_age" =~ ^[0-9]+$ ]] || die "--asset-max-age must be a number of seconds"
[[ -n "$api_url" ]] || api_url="$(tf_output api_base_url)"
api_url="${api_url%/}"
# The URL lands inside a JavaScript string literal: allow URL characters only.
[[ "$api_url" =~ ^https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~/-]*)?$ ]] \
  || die "API URL '$api_url' must be http(s)://host[:port][/path]"

if [[ -n "$stage_only" ]]; then
  stage="$stage_only"
  mkdir -p "$stage"
else
  stage="$(mktemp -d)"
  trap 'rm -rf "$stage"' EXIT
fi
cp -Rp "$frontend/." "$stage/"
printf 'window.API_BASE_URL = "%s";\n' "$api_url" >"$stage/config.js"
log "staged $frontend with config.js -> $api_url"
[[ -n "$stage_only" ]] && exit 0

require_cmd aws
if [[ -z "$bucket" ]]; then
  bucket="$(tf_output website_bucket)"
  [[ -n "$distribution" ]] || distribution="$(tf_output_optional cloudfront_distribution_id)"
fi
use_region "$region"

aws_cli s3 sync --only-show-errors "$stage/" "s3://$bucket/" \
  --exclude "*" --include "vendor/*" \
  --cache-control "public, max-age=$max_age"
aws_cli s3 sync --only-show-errors "$stage/" "s3://$bucket/" \
  --exclude "vendor/*" \
  --cache-control "no-cache"
# Only deletions are left to do: --size-only keeps the uploads above (and
# their Cache-Control) from being redone.
aws_cli s3 sync --only-show-errors --delete --size-only "$stage/" "s3://$bucket/"
log "published to s3://$bucket/ (API $api_url)"

if [[ -n "$distribution" ]]; then
  invalidation="$(aws_cli cloudfront create-invalidation --distribution-id "$distribution" --paths '/*' \
    --query 'Invalidation.Id' --output text)"
  log "invalidated /* on CloudFront distribution $distribution ($invalidation)"
fi
