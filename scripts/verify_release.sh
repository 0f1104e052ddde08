#!/usr/bin/env bash
# Check that a release really runs: every service's running deployment carries the new image tag.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: $(basename "$0") --tag TAG [options] [service...]

A rollout can look healthy when it is not: old tasks keep answering /ready
while new ones fail, and after a circuit-breaker rollback the old task
definition runs again and answers /ready too. This waits until, for every
service (default: all of services/registry.json),
  - ECS shows a single deployment (PRIMARY, rollout COMPLETED when reported)
    with runningCount == desiredCount > 0, and
  - the task definition of that deployment runs images tagged TAG,
and then, with --api-url, until GET <api>/api/<service>/ready answers 200.
It exits non-zero, naming each service and what it runs, if that does not
happen within --timeout seconds.

Options:
  --tag TAG         image tag the release deployed (required)
  --cluster NAME    ECS cluster (default: terraform output ecs_cluster_name)
  --api-url URL     also wait for /ready through the load balancer
  --region REGION   AWS region (default: AWS_REGION, then terraform output region)
  --timeout SEC     give up after this long (default: 600)
  --interval SEC    seconds between checks (default: 10)
  -h, --help        show this help

AWS_ENDPOINT_URL, when set, sends every call to that endpoint.
USAGE
}

tag="" cluster="" api_url="" region="" timeout=600 interval=10 services=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tag) tag="${2:?--tag needs a value}"; shift 2 ;;
    --cluster) cluster="${2:?--cluster needs a value}"; shift 2 ;;
    --api-url) api_url="${2:?--api-url needs a value}"; shift 2 ;;
    --region) region="${2:?--region needs a value}"; shift 2 ;;
    --timeout) timeout="${2:?--timeout needs a value}"; shift 2 ;;
    --interval) interval="${2:?--interval needs a value}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; die "unknown option $1" ;;
    *) services+=("$1"); shift ;;
  esac
done

[[ -n "$tag" ]] || die "--tag is required (the image tag the release deployed)"
check_segment "image tag" "$tag"
[[ "$timeout" =~ ^[0-9]+$ && "$interval" =~ ^[0-9]+$ ]] || die "--timeout and --interval must be whole seconds"
if [[ ${#services[@]} -eq 0 ]]; then
  mapfile -t services < <(registry_services)
fi
check_services "${services[@]}"
require_cmd aws
[[ -n "$cluster" ]] || cluster="$(tf_output ecs_cluster_name)"
use_region "$region"

# One line per service that is not (yet) released: "<service>: <why>".
not_released() {
  local described svc definition images
  described="$(aws_cli ecs describe-services --cluster "$cluster" --services "${services[@]}" --output json)" \
    || { echo "all: describe-services failed"; return; }
  while IFS=$'\t' read -r svc definition; do
    [[ "$definition" == -* ]] && { echo "$svc: ${definition#-}"; continue; }
    images="$(aws_cli ecs describe-task-definition --task-definition "$definition" \
      --query 'taskDefinition.containerDefinitions[].image' --output text)" \
      || { echo "$svc: cannot read $definition"; continue; }
    for image in $images; do
      [[ "${image##*:}" == "$tag" ]] || echo "$svc: runs $image (${definition##*/}), not tag $tag"
    done
  done < <(python3 -c '
import json, sys
wanted = sys.argv[1:]
found = {s["serviceName"]: s for s in json.load(sys.stdin).get("services", [])}
for name in wanted:
    s = found.get(name)
    if s is None or s.get("status") != "ACTIVE":
        print(f"{name}\t-no ACTIVE service {name}")
        continue
    deployments = s.get("deployments", [])
    primary = [d for d in deployments if d.get("status") == "PRIMARY"]
    running, desired = s.get("runningCount", 0), s.get("desiredCount", 0)
    state = primary[0].get("rolloutState", "COMPLETED") if primary else None
    if len(deployments) != 1 or len(primary) != 1:
        print(f"{name}\t-{len(deployments)} deployments still active (rollout in progress)")
    elif state != "COMPLETED":
        reason = primary[0].get("rolloutStateReason", "")
        print(f"{name}\t-rollout {state}: {reason}")
    elif not 0 < running == desired:
        print(f"{name}\t-{running} of {desired} tasks running")
    else:
        definition = primary[0].get("taskDefinition")
        print(f"{name}\t{definition}")
' "${services[@]}" <<<"$described")
  if [[ -n "$api_url" ]]; then
    for svc in "${services[@]}"; do
      python3 -c '
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
        sys.exit(0 if r.status == 200 else 1)
except OSError:
    sys.exit(1)
' "${api_url%/}/api/$svc/ready" || echo "$svc: ${api_url%/}/api/$svc/ready does not answer 200"
    done
  fi
}

deadline=$(( $(date +%s) + timeout ))
while true; do
  pending="$(not_released)"
  if [[ -z "$pending" ]]; then
    log "released: ${services[*]} run tag $tag${api_url:+ and answer /ready}"
    exit 0
  fi
  if (( $(date +%s) >= deadline )); then
    log "not released after ${timeout}s:"
    log "$pending"
    exit 1
  fi
  sleep "$interval"
done
