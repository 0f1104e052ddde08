#!/usr/bin/env bash
# Set, rotate and retire the write keys of the services (Secrets Manager).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [options] <command> <service>... | --all

Each service's write routes (flow /ingest, every /actuals) accept the keys in
its secret <prefix>/<service>/api-keys, a comma-separated list that ECS injects
into the task as API_KEYS when a task starts. Terraform creates the secrets
empty; this script writes them, so no key is ever in Terraform state.

Commands:
  init     give every named service whose secret has no value one new key
  rotate   add a new key beside the current one (both valid until retire)
  retire   keep only the newest key (after the clients use it)
  show     print the newest key of one service (to hand to its client)

Running tasks read the secret when they start: after rotate or retire, roll the
service (aws ecs update-service --force-new-deployment) so its tasks see it.
A new key is printed once, to stdout, as <service>=<key>; nothing is written
to disk.

Options:
  --all             every service of services/registry.json
  --region REGION   AWS region (default: AWS_REGION, then terraform output region)
  -h, --help        show this help

AWS_ENDPOINT_URL, when set, sends every call to that endpoint.
USAGE
}

region="" all=0
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --region) region="${2:?--region needs a value}"; shift 2 ;;
    --all) all=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; die "unknown option $1" ;;
    *) args+=("$1"); shift ;;
  esac
done
[[ ${#args[@]} -ge 1 ]] || { usage >&2; die "expected a command"; }
command="${args[0]}"
services=("${args[@]:1}")
case "$command" in
  init | rotate | retire | show) ;;
  *) usage >&2; die "unknown command '$command' (init, rotate, retire, show)" ;;
esac
if [[ $all -eq 1 ]]; then
  [[ ${#services[@]} -eq 0 ]] || die "give service names or --all, not both"
  mapfile -t services < <(registry_services)
fi
[[ ${#services[@]} -ge 1 ]] || { usage >&2; die "name at least one service (or --all)"; }
check_services "${services[@]}"
[[ "$command" != show || ${#services[@]} -eq 1 ]] || die "show takes one service"
require_cmd aws
use_region "$region"
secrets="$(tf_output api_key_secrets)"

secret_of() {
  python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$secrets" "$1" \
    || die "terraform output api_key_secrets has no secret for '$1'"
}

new_key() {
  # <service>_<43 url-safe characters>: 32 random bytes, as services/common/auth.py makes them
  python3 -c 'import secrets, sys; print(f"{sys.argv[1]}_{secrets.token_urlsafe(32)}")' "$1"
}

current_value() {
  local out
  if out="$(aws_cli secretsmanager get-secret-value --secret-id "$1" --query SecretString --output text 2>&1)"; then
    printf '%s\n' "$out"
  elif [[ "$out" == *ResourceNotFoundException* ]]; then
    printf ''    # the secret exists but has no value yet
  else
    die "cannot read $1: $out"
  fi
}

put_value() {
  aws_cli secretsmanager put-secret-value --secret-id "$1" --secret-string "$2" >/dev/null
}

for svc in "${services[@]}"; do
  secret="$(secret_of "$svc")"
  value="$(current_value "$secret")"
  newest="${value##*,}"
  case "$command" in
    init)
      if [[ -n "$value" ]]; then
        log "$svc: $secret already holds a key; left as it is (rotate adds one)"
        continue
      fi
      key="$(new_key "$svc")"
      put_value "$secret" "$key"
      log "$svc: first key written to $secret"
      printf '%s=%s\n' "$svc" "$key"
      ;;
    rotate)
      [[ -n "$value" ]] || die "$svc: $secret has no key yet; run init first"
      key="$(new_key "$svc")"
      put_value "$secret" "$newest,$key"
      log "$svc: $secret now holds the previous and a new key; move the clients, then retire"
      printf '%s=%s\n' "$svc" "$key"
      ;;
    retire)
      [[ -n "$value" ]] || die "$svc: $secret has no key yet; run init first"
      if [[ "$value" == "$newest" ]]; then
        log "$svc: $secret holds one key; nothing to retire"
        continue
      fi
      put_value "$secret" "$newest"
      log "$svc: $secret keeps only its newest key; roll the service so its tasks drop the old one"
      ;;
    show)
      [[ -n "$value" ]] || die "$svc: $secret has no key yet; run init first"
      printf '%s=%s\n' "$svc" "$newest"
      ;;
  esac
done
