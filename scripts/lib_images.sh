# shellcheck shell=bash
# Helpers shared by the image scripts (build_images.sh, build_and_push_ecr.sh). Source it
# after lib.sh; do not run it.

# The container engine, in CONTAINER_ENGINE (docker or podman): as set by the caller, else docker
# where its daemon answers (AWS CI), else podman. ENGINE is the command that runs it: podman gets
# PODMAN_FLAGS first, by default the runtime and cgroup manager that work where crun and systemd
# cgroups do not (../shared/containers.md); set PODMAN_FLAGS="" where podman's defaults work.
# Call once, before `engine` or "${ENGINE[@]}".
resolve_engine() {
  if [[ -z "${CONTAINER_ENGINE:-}" ]]; then
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
      CONTAINER_ENGINE=docker
    else
      CONTAINER_ENGINE=podman
    fi
  fi
  case "$CONTAINER_ENGINE" in
    docker) ENGINE=(docker) ;;
    podman)
      local flags=()
      read -r -a flags <<<"${PODMAN_FLAGS---runtime runc --cgroup-manager=cgroupfs}"
      ENGINE=(podman "${flags[@]}")
      ;;
    *) die "CONTAINER_ENGINE must be docker or podman, not '$CONTAINER_ENGINE'" ;;
  esac
}

engine() {
  "${ENGINE[@]}" "$@"
}

# sha256 of every file the images are built from (Dockerfile, .dockerignore, pyproject.toml,
# services/, data/: tracked and untracked, not ignored), path and content: the same sources give
# the same digest on any machine, any other change gives another. Labels every image, and tags
# a build from uncommitted changes.
source_digest() {
  local root="$1"
  (
    cd "$root" || exit 1
    git ls-files -z --cached --others --exclude-standard -- Dockerfile .dockerignore pyproject.toml services data \
      | sort -z -u \
      | while IFS= read -r -d '' path; do
          [[ -f "$path" ]] || continue
          printf '%s %s\n' "$(sha256sum <"$path" | cut -d' ' -f1)" "$path"
        done \
      | sha256sum | cut -d' ' -f1
  )
}

# Non-empty when the image sources differ from the commit (modified, deleted or untracked).
sources_changed() {
  git -C "$1" status --porcelain --untracked-files=normal -- Dockerfile .dockerignore pyproject.toml services data
}

# shellcheck disable=SC2034 # read by the scripts that source this file
IMAGE_SOURCE_LABEL="stadium-ml-platform.source-sha256"
