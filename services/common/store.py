"""The model store: versioned artifacts under file:// or s3://, with a LATEST pointer.

Layout: <root>/<service>/<version>/manifest.json (+ files) and <root>/<service>/LATEST.
Publishing writes the version folder first and LATEST last, so a reader never sees a
LATEST that names a half-written version. Downloads are cached on local disk and every
file is checked against the manifest's sha256 before it is used.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from .manifest import MANIFEST_NAME, IntegrityError, sha256_file, verify_files

# One rule for every name that becomes part of a key (service, version, file): a single path
# segment that starts with a letter or digit, so no name can climb out of its folder or prefix.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
VERSION_PATTERN = NAME_PATTERN


def check_name(kind: str, name: str) -> str:
    """`name` if it is a valid service, version or file name, else a StoreError saying why."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise StoreError(f"{name!r} is not a valid {kind} name: one path segment of letters, digits, '.', '_' "
                         "or '-', starting with a letter or digit")
    return name


class StoreError(RuntimeError):
    """The store could not be read or written, or holds nothing usable."""


class Backend(Protocol):
    def read_text(self, key: str) -> str: ...
    def write_text(self, key: str, text: str) -> None: ...
    def download(self, key: str, dest: Path) -> None: ...
    def upload(self, src: Path, key: str) -> None: ...
    def list_dirs(self, prefix: str) -> list[str]: ...


def _check_key(key: str) -> str:
    parts = key.split("/")
    for part in parts:
        check_name("key segment", part)
    return key


class FileBackend:
    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def read_text(self, key: str) -> str:
        try:
            return self._path(key).read_text()
        except FileNotFoundError:
            raise StoreError(f"{key}: not found in {self.root}") from None

    def write_text(self, key: str, text: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)  # atomic: readers see the old or the new pointer

    def download(self, key: str, dest: Path) -> None:
        try:
            shutil.copyfile(self._path(key), dest)
        except FileNotFoundError:
            raise StoreError(f"{key}: not found in {self.root}") from None

    def upload(self, src: Path, key: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, path)

    def list_dirs(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir())


class S3Backend:
    """boto3 client; honours AWS_ENDPOINT_URL, so moto or MinIO work the same as AWS."""

    def __init__(self, bucket: str, prefix: str):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = boto3.client(
            "s3",
            endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
            config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 2}),
        )

    def _key(self, key: str) -> str:
        _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, what: str, fn, *args, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise StoreError(f"s3://{self.bucket}/{what}: {code}") from None
        except BotoCoreError as exc:
            raise StoreError(f"s3://{self.bucket}/{what}: {exc}") from None

    def read_text(self, key: str) -> str:
        body = self._call(self._key(key), self.client.get_object, Bucket=self.bucket, Key=self._key(key))
        return body["Body"].read().decode()

    def write_text(self, key: str, text: str) -> None:
        self._call(self._key(key), self.client.put_object, Bucket=self.bucket, Key=self._key(key),
                   Body=text.encode(), ContentType="text/plain")

    def download(self, key: str, dest: Path) -> None:
        self._call(self._key(key), self.client.download_file, self.bucket, self._key(key), str(dest))

    def upload(self, src: Path, key: str) -> None:
        self._call(self._key(key), self.client.upload_file, str(src), self.bucket, self._key(key))

    def list_dirs(self, prefix: str) -> list[str]:
        full = self._key(prefix).rstrip("/") + "/"
        paginator = self.client.get_paginator("list_objects_v2")
        names: list[str] = []
        pages = self._call(full, lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=full, Delimiter="/")))
        for page in pages:
            for common in page.get("CommonPrefixes", []):
                names.append(common["Prefix"][len(full):].strip("/"))
        return sorted(names)


def backend_for(uri: str) -> Backend:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return FileBackend(Path(parsed.path))
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise StoreError(f"{uri}: s3 URI needs a bucket")
        return S3Backend(parsed.netloc, parsed.path)
    raise StoreError(f"{uri}: MODEL_STORE_URI must start with file:// or s3://")


class ModelStore:
    """Publish, list, fetch (verified, cached) and roll back model versions."""

    def __init__(self, uri: str, cache_dir: Path | None = None):
        self.uri = uri
        self.backend = backend_for(uri)
        self.cache_dir = Path(cache_dir) if cache_dir else Path(tempfile.gettempdir()) / "model-cache"

    # -- reading -----------------------------------------------------------
    def latest_version(self, service: str) -> str:
        check_name("service", service)
        version = self.backend.read_text(f"{service}/LATEST").strip()
        if not VERSION_PATTERN.match(version):
            raise StoreError(f"{service}/LATEST holds no valid version name")
        return version

    def has_latest(self, service: str) -> bool:
        try:
            self.latest_version(service)
            return True
        except StoreError:
            return False

    def versions(self, service: str) -> list[str]:
        check_name("service", service)
        return [v for v in self.backend.list_dirs(service) if VERSION_PATTERN.match(v)]

    def manifest(self, service: str, version: str) -> dict[str, Any]:
        check_name("service", service)
        self._check_version(version)
        try:
            return json.loads(self.backend.read_text(f"{service}/{version}/{MANIFEST_NAME}"))
        except json.JSONDecodeError as exc:
            raise StoreError(f"{service}/{version}/{MANIFEST_NAME}: not JSON ({exc})") from None

    def fetch(self, service: str, version: str) -> tuple[Path, dict[str, Any]]:
        """Download a version into the cache (reusing verified files) and verify every hash."""
        manifest = self.manifest(service, version)
        if manifest.get("service") != service or manifest.get("version") != version:
            raise IntegrityError(f"{service}/{version}: manifest names {manifest.get('service')}/{manifest.get('version')}")
        target = self.cache_dir / service / version
        target.mkdir(parents=True, exist_ok=True)
        for name, entry in manifest.get("files", {}).items():
            _check_file_name(name)
            local = target / name
            if local.is_file() and sha256_file(local) == entry.get("sha256"):
                continue
            fd, tmp = tempfile.mkstemp(dir=target, prefix=".part-")
            os.close(fd)
            try:
                self.backend.download(f"{service}/{version}/{name}", Path(tmp))
                os.replace(tmp, local)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        verify_files(target, manifest)
        return target, manifest

    # -- writing -----------------------------------------------------------
    def publish(self, service: str, directory: Path) -> str:
        """Upload a built version folder, then point LATEST at it. Returns the version."""
        check_name("service", service)
        directory = Path(directory)
        manifest = json.loads((directory / MANIFEST_NAME).read_text())
        version = manifest.get("version")
        self._check_version(version)
        if manifest.get("service") != service:
            raise IntegrityError(f"{directory}: manifest names service {manifest.get('service')!r}, "
                                 f"not {service!r}")
        for name in manifest.get("files", {}):
            _check_file_name(name)  # the same rule fetch applies, before anything is written
        verify_files(directory, manifest)
        for name in manifest["files"]:
            self.backend.upload(directory / name, f"{service}/{version}/{name}")
        self.backend.upload(directory / MANIFEST_NAME, f"{service}/{version}/{MANIFEST_NAME}")
        self.backend.write_text(f"{service}/LATEST", version + "\n")
        return version

    def rollback(self, service: str, version: str) -> str:
        """Point LATEST at an existing version (after checking its files), return the old one."""
        self.fetch(service, version)
        try:
            previous = self.latest_version(service)
        except StoreError:
            previous = ""
        self.backend.write_text(f"{service}/LATEST", version + "\n")
        return previous

    @staticmethod
    def _check_version(version: str) -> None:
        if not isinstance(version, str) or not VERSION_PATTERN.match(version):
            raise StoreError(f"{version!r} is not a valid version name")


def _check_file_name(name: str) -> None:
    if not isinstance(name, str) or not NAME_PATTERN.match(name) or name == MANIFEST_NAME:
        raise IntegrityError(f"{name!r}: file names may not contain paths (one segment of letters, digits, "
                             "'.', '_' or '-', starting with a letter or digit; not manifest.json)")
