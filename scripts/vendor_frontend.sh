#!/usr/bin/env bash
# Vendor the UI's chart library from npm into frontend/vendor/ at a pinned version.
#
#   scripts/vendor_frontend.sh          fetch chart.js@$CHARTJS_VERSION with npm, copy its UMD build,
#                                       record version, tarball integrity and sha256 in VERSIONS.txt
#   scripts/vendor_frontend.sh --check  verify the committed file against VERSIONS.txt (no network)
#
# The vendored file is committed, so the site (and its browser tests) work without npm.
set -euo pipefail

CHARTJS_VERSION="${CHARTJS_VERSION:-4.6.1}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR="$ROOT/frontend/vendor"
FILE="chart.umd.min.js"

die() { printf 'error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat <<USAGE
Usage: $(basename "$0") [--check]

Fetch chart.js@$CHARTJS_VERSION from npm (npm pack: checked against the registry's
integrity hash), copy dist/$FILE into frontend/vendor/, and record the version,
its sha256 and the tarball integrity in frontend/vendor/VERSIONS.txt.
Set CHARTJS_VERSION to vendor another version.

Options:
  --check     verify the committed file against VERSIONS.txt (no network)
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
  [[ -f "$VENDOR/VERSIONS.txt" ]] || die "$VENDOR/VERSIONS.txt is missing; run $0"
  expected="$(awk -v f="$FILE" '$1 == f {print $4}' "$VENDOR/VERSIONS.txt")"
  [[ -n "$expected" ]] || die "no entry for $FILE in VERSIONS.txt"
  actual="$(sha256sum "$VENDOR/$FILE" | cut -d' ' -f1)"
  [[ "$expected" == "$actual" ]] || die "$FILE sha256 $actual does not match VERSIONS.txt ($expected)"
  echo "ok: $FILE matches VERSIONS.txt"
  exit 0
fi

command -v npm >/dev/null 2>&1 || die "npm is not installed (apt-get install -y npm)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# npm pack checks the tarball against the registry's integrity hash before writing it.
(cd "$tmp" && npm pack --silent --json "chart.js@$CHARTJS_VERSION" >pack.json)
tarball="$tmp/chart.js-$CHARTJS_VERSION.tgz"
[[ -f "$tarball" ]] || die "npm pack did not produce $tarball"
integrity="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["integrity"])' "$tmp/pack.json")"
tar -xzf "$tarball" -C "$tmp"
[[ -f "$tmp/package/dist/$FILE" ]] || die "chart.js@$CHARTJS_VERSION has no dist/$FILE"

mkdir -p "$VENDOR"
cp "$tmp/package/dist/$FILE" "$VENDOR/$FILE"
cp "$tmp/package/LICENSE.md" "$VENDOR/chart.js.LICENSE.md"
sha="$(sha256sum "$VENDOR/$FILE" | cut -d' ' -f1)"
cat >"$VENDOR/VERSIONS.txt" <<TXT
# Vendored by scripts/vendor_frontend.sh; do not edit by hand.
# file  package  version  sha256  npm-tarball-integrity
$FILE chart.js $CHARTJS_VERSION $sha $integrity
TXT
echo "vendored chart.js@$CHARTJS_VERSION -> frontend/vendor/$FILE (sha256 $sha)"
