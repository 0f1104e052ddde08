#!/usr/bin/env bash
# Vendor the browser libraries from npm at pinned versions (committed, so nothing needs npm or a CDN):
#   chart.js  -> frontend/vendor/        (the UI's charts)
#   rapidoc   -> services/common/docs/   (the API viewer every service serves at /api/<svc>/docs)
#
#   scripts/vendor_frontend.sh          fetch each package with npm pack (checked against the registry's
#                                       integrity hash), copy its build and licence, record version,
#                                       sha256 and tarball integrity in the folder's VERSIONS.txt
#   scripts/vendor_frontend.sh --check  verify the committed files against their VERSIONS.txt (no network)
set -euo pipefail

CHARTJS_VERSION="${CHARTJS_VERSION:-4.6.1}"
RAPIDOC_VERSION="${RAPIDOC_VERSION:-9.3.8}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# package  version  file in the package  destination folder  licence file in the package
PACKAGES=(
  "chart.js $CHARTJS_VERSION dist/chart.umd.min.js frontend/vendor LICENSE.md"
  "rapidoc $RAPIDOC_VERSION dist/rapidoc-min.js services/common/docs LICENSE.txt"
)

die() { printf 'error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat <<USAGE
Usage: $(basename "$0") [--check]

Fetch chart.js@$CHARTJS_VERSION and rapidoc@$RAPIDOC_VERSION from npm (npm pack: checked against
the registry's integrity hash), copy each build and its licence into its folder (frontend/vendor/,
services/common/docs/), and record version, sha256 and tarball integrity in that folder's VERSIONS.txt.
Set CHARTJS_VERSION or RAPIDOC_VERSION to vendor another version.

Options:
  --check     verify the committed files against VERSIONS.txt (no network)
  -h, --help  this text
USAGE
}

check=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --check) check=1 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
  shift
done

if [[ $check -eq 1 ]]; then
  for entry in "${PACKAGES[@]}"; do
    read -r _name _version src dest _licence <<<"$entry"
    file="$(basename "$src")"
    versions="$ROOT/$dest/VERSIONS.txt"
    [[ -f "$versions" ]] || die "$versions is missing; run $0"
    expected="$(awk -v f="$file" '$1 == f {print $4}' "$versions")"
    [[ -n "$expected" ]] || die "no entry for $file in $versions"
    actual="$(sha256sum "$ROOT/$dest/$file" | cut -d' ' -f1)"
    [[ "$expected" == "$actual" ]] || die "$dest/$file sha256 $actual does not match VERSIONS.txt ($expected)"
    echo "ok: $dest/$file matches VERSIONS.txt"
  done
  exit 0
fi

command -v npm >/dev/null 2>&1 || die "npm is not installed (apt-get install -y npm)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

for entry in "${PACKAGES[@]}"; do
  read -r name version src dest licence <<<"$entry"
  file="$(basename "$src")"
  work="$tmp/$name"
  mkdir -p "$work"
  # npm pack checks the tarball against the registry's integrity hash before writing it.
  (cd "$work" && npm pack --silent --json "$name@$version" >pack.json)
  tarball="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["filename"])' "$work/pack.json")"
  integrity="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["integrity"])' "$work/pack.json")"
  [[ -f "$work/$tarball" ]] || die "npm pack did not produce $tarball"
  tar -xzf "$work/$tarball" -C "$work"
  [[ -f "$work/package/$src" ]] || die "$name@$version has no $src"
  mkdir -p "$ROOT/$dest"
  cp "$work/package/$src" "$ROOT/$dest/$file"
  cp "$work/package/$licence" "$ROOT/$dest/$name.LICENSE${licence##*LICENSE}"
  sha="$(sha256sum "$ROOT/$dest/$file" | cut -d' ' -f1)"
  cat >"$ROOT/$dest/VERSIONS.txt" <<TXT
# Vendored by scripts/vendor_frontend.sh; do not edit by hand.
# file  package  version  sha256  npm-tarball-integrity
$file $name $version $sha $integrity
TXT
  echo "vendored $name@$version -> $dest/$file (sha256 $sha)"
done
