# shellcheck shell=bash
# Helpers shared by the deployment scripts. Source it; do not run it.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REGISTRY_FILE="${REGISTRY_FILE:-$REPO_ROOT/services/registry.json}"
# The Terraform configuration of the environment (an examples/<env>/ directory
# or your own copy of one); its outputs fill in what is not passed as options.
TF_DIR="${TF_DIR:-$REPO_ROOT/terraform/examples/dev}"

log() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The aws CLI, pointed at AWS_ENDPOINT_URL when it is set. CLI v2 reads the
# variable itself; v1 (PyPI awscli) may not, so the flag is always passed.
aws_cli() {
  if [[ -n "${AWS_ENDPOINT_URL:-}" ]]; then
    aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"
  else
    aws "$@"
  fi
}

require_cmd() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed or not on PATH"
}

# Service names from services/registry.json, one per line.
registry_services() {
  python3 - "$REGISTRY_FILE" <<'PY'
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    for service in json.load(f)["services"]:
        print(service["name"])
PY
}

# One field of a service's registry entry.
registry_field() {
  python3 - "$REGISTRY_FILE" "$1" "$2" <<'PY'
import json, sys
path, name, field = sys.argv[1:]
with open(path, encoding="utf-8") as f:
    for service in json.load(f)["services"]:
        if service["name"] == name:
            print(service[field])
            break
    else:
        sys.exit(f"unknown service {name!r}")
PY
}

# Fail unless every argument names a registry service.
check_services() {
  local known svc
  known="$(registry_services)"
  for svc in "$@"; do
    grep -qxF -- "$svc" <<<"$known" || die "unknown service '$svc' (registry: $(tr '\n' ' ' <<<"$known"))"
  done
}

# One output of the environment in TF_DIR, for values not given as arguments:
# a top-level output, or one of the platform module's (the examples export
# the module as `platform`). Fails, naming what is missing, when there is no
# state, no such output, or it is null or empty; `terraform output -raw`
# would print "No outputs found" and exit 0 when nothing was applied.
tf_output() {
  local name="$1" outputs
  command -v terraform >/dev/null 2>&1 \
    || die "terraform is not on PATH; pass the value as an argument instead of reading 'terraform output $name'"
  outputs="$(terraform -chdir="$TF_DIR" output -json 2>/dev/null)" \
    || die "'terraform output' failed in $TF_DIR; run terraform init there, or pass the value as an argument"
  python3 -c '
import json, sys
name, where = sys.argv[1], sys.argv[2]
outputs = json.loads(sys.stdin.read() or "{}")
if not outputs:
    sys.exit(f"error: no Terraform outputs in {where} (nothing applied there, or another TF_DIR is meant); apply it or pass the value as an argument")
platform = (outputs.get("platform") or {}).get("value") or {}
if name in outputs:
    value = outputs[name]["value"]
elif name in platform:
    value = platform[name]
else:
    sys.exit(f"error: {where} has no output {name!r}")
if value is None or value == "" or value == {} or value == []:
    sys.exit(f"error: output {name!r} of {where} is empty")
print(value if isinstance(value, str) else json.dumps(value))
' "$name" "$TF_DIR" <<<"$outputs" || exit 1
}

# Like tf_output, but a null output prints nothing instead of failing (for
# what a configuration may leave out, e.g. the CloudFront distribution).
tf_output_optional() {
  local value
  value="$( (tf_output "$1") 2>&1)" && { printf '%s\n' "$value"; return 0; }
  [[ "$value" == *"is empty"* ]] && return 0
  printf '%s\n' "$value" >&2
  exit 1
}

# Region: argument, then AWS_REGION / AWS_DEFAULT_REGION, then terraform output.
resolve_region() {
  if [[ -n "${1:-}" ]]; then
    printf '%s\n' "$1"
  elif [[ -n "${AWS_REGION:-}" ]]; then
    printf '%s\n' "$AWS_REGION"
  elif [[ -n "${AWS_DEFAULT_REGION:-}" ]]; then
    printf '%s\n' "$AWS_DEFAULT_REGION"
  else
    tf_output region
  fi
}

# Resolve the region and export it under both names: the aws CLI v2 reads AWS_REGION before
# AWS_DEFAULT_REGION, so exporting only the latter would let an inherited AWS_REGION win over --region.
use_region() {
  AWS_REGION="$(resolve_region "${1:-}")"
  AWS_DEFAULT_REGION="$AWS_REGION"
  export AWS_REGION AWS_DEFAULT_REGION
}

sha256_of() {
  sha256sum "$1" | cut -d' ' -f1
}

# A model version or service name must be a single safe path segment.
check_segment() {
  [[ "$2" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ ]] || die "invalid $1 '$2' (letters, digits, '.', '_', '-')"
}

# "<sha256>\t<file name>" for every file a manifest.json lists under
# "files": {"<name>": {"sha256": "...", "bytes": N}}. Fails on a malformed
# manifest or a path that leaves the version folder.
manifest_files() {
  python3 - "$1" <<'PY'
import json, re, sys
path = sys.argv[1]
try:
    with open(path, encoding="utf-8") as f:
        files = json.load(f)["files"]
except (OSError, ValueError, KeyError, TypeError) as exc:
    sys.exit(f"{path}: not a manifest with a 'files' map ({exc})")
if not isinstance(files, dict) or not files:
    sys.exit(f"{path}: 'files' must be a non-empty map of file name to sha256")
for name, meta in sorted(files.items()):
    digest = meta.get("sha256") if isinstance(meta, dict) else None
    # Same rule as the services' model store: plain file names, no paths.
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*", name) or name == "manifest.json":
        sys.exit(f"{path}: unsafe file name {name!r}")
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        sys.exit(f"{path}: file {name!r} has no valid sha256")
    print(f"{digest}\t{name}")
PY
}

# Check every file of a version folder against its manifest. Prints each
# mismatch; returns non-zero if any.
verify_version_dir() {
  local dir="$1" manifest="$2" listing expected name actual bad=0
  listing="$(manifest_files "$manifest")" || return 1
  while IFS=$'\t' read -r expected name; do
    if [[ ! -f "$dir/$name" ]]; then
      log "  missing: $name"
      bad=1
      continue
    fi
    actual="$(sha256_of "$dir/$name")"
    if [[ "$actual" != "$expected" ]]; then
      log "  sha256 mismatch: $name (manifest $expected, found $actual)"
      bad=1
    fi
  done <<<"$listing"
  return "$bad"
}
