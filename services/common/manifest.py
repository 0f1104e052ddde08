"""manifest.json: what a model version is, how it was measured, and the sha256 of every file."""
from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"


class IntegrityError(RuntimeError):
    """A file's bytes do not match the sha256 its manifest records."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint_files(*paths: Path) -> str:
    """sha256 over the bytes of the given data files, for the manifest's data fingerprint."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).name.encode())
        digest.update(sha256_file(Path(path)).encode())
    return digest.hexdigest()


def code_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def library_versions(names: list[str]) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def new_version(now: datetime | None = None) -> str:
    """Sortable, unique-enough version names: UTC timestamp to the microsecond."""
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%S%fZ")


def build_manifest(
    directory: Path,
    *,
    service: str,
    version: str,
    metrics: dict[str, Any],
    features: list[dict[str, str]],
    data_fingerprint: str,
    libraries: list[str],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write manifest.json into `directory`, hashing every other file in it."""
    directory = Path(directory)
    files = {
        path.name: {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        for path in sorted(directory.iterdir())
        if path.is_file() and path.name != MANIFEST_NAME
    }
    manifest = {
        "service": service,
        "version": version,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "code_revision": code_revision(),
        "data_fingerprint": data_fingerprint,
        "features": features,
        "libraries": library_versions(libraries),
        "metrics": metrics,
        "files": files,
        **(extra or {}),
    }
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return manifest


def verify_files(directory: Path, manifest: dict[str, Any]) -> None:
    """Refuse a version whose files are missing or whose bytes differ from the manifest."""
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise IntegrityError("manifest lists no files")
    for name, entry in files.items():
        path = Path(directory) / name
        if not path.is_file():
            raise IntegrityError(f"{name}: missing")
        actual = sha256_file(path)
        if actual != entry.get("sha256"):
            raise IntegrityError(f"{name}: sha256 {actual[:12]} does not match manifest {str(entry.get('sha256'))[:12]}")
