"""Keys for the write routes (flow /ingest, every /actuals); reads stay open.

A key belongs to one service and reads `<service>_<secret>`: the prefix is not secret, it only
lets a service tell "a key for another service" (403) from "no valid key" (401). A service accepts
every key listed for it, so a new key and the old one are valid together while clients move over
(rotation without downtime).

Where keys come from (the first that is set):
- `API_KEYS`: comma-separated keys. On ECS the task definition injects it from the service's own
  Secrets Manager secret (`secrets` in the container definition), so it never sits in the image,
  the task definition or Terraform state.
- `API_KEYS_DIR`: a directory with `<service>.keys`, one key per line (`make run` writes them under
  var/keys on first start; tests write their own).
`AUTH_DISABLED=1` turns the check off for local development; a service refuses to start with it on
ECS. With no key configured and auth on, writes answer 503 (not configured) and reads still work.
"""
from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import Request

from .api import ApiError
from .config import ConfigError

KEY_HEADER = "X-Api-Key"


def on_ecs() -> bool:
    """ECS (Fargate and EC2) sets the task metadata endpoint and AWS_EXECUTION_ENV in every container."""
    return bool(os.environ.get("ECS_CONTAINER_METADATA_URI_V4") or os.environ.get("ECS_CONTAINER_METADATA_URI")
                or os.environ.get("AWS_EXECUTION_ENV", "").startswith("AWS_ECS"))


def new_key(service: str) -> str:
    return f"{service}_{secrets.token_urlsafe(32)}"


def key_file(directory: Path, service: str) -> Path:
    return Path(directory) / f"{service}.keys"


def ensure_keys(directory: Path, services: list[str]) -> list[Path]:
    """Write a key file (mode 0600) for each service that has none; returns the files written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for service in services:
        path = key_file(directory, service)
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(new_key(service) + "\n")
            written.append(path)
    return written


def read_key(directory: Path, service: str) -> str:
    """The newest key for a service (the last line): what a local client sends."""
    lines = [ln.strip() for ln in key_file(directory, service).read_text().splitlines() if ln.strip()]
    if not lines:
        raise ConfigError(f"{key_file(directory, service)} holds no key")
    return lines[-1]


def _split(text: str) -> tuple[str, ...]:
    return tuple(k.strip() for k in text.replace("\n", ",").split(",") if k.strip())


@dataclass(frozen=True)
class WriteKeys:
    """The keys one service accepts on its write routes."""

    service: str
    keys: tuple[str, ...]
    disabled: bool = False
    source: str = ""

    @classmethod
    def from_environment(cls, service: str, known_services: tuple[str, ...] = ()) -> "WriteKeys":
        disabled = os.environ.get("AUTH_DISABLED", "").strip().lower() in ("1", "true", "yes")
        if disabled and on_ecs():
            raise ConfigError("AUTH_DISABLED: refused on ECS (local development only); give the task its "
                              "API_KEYS secret instead")
        if os.environ.get("API_KEYS", "").strip():
            keys, source = _split(os.environ["API_KEYS"]), "API_KEYS"
        elif os.environ.get("API_KEYS_DIR", "").strip():
            path = key_file(Path(os.environ["API_KEYS_DIR"]), service)
            keys = _split(path.read_text()) if path.exists() else ()
            source = str(path)
        else:
            keys, source = (), ""
        short = [k for k in keys if len(k) < 24]
        if short:
            raise ConfigError(f"API_KEYS: every key needs at least 24 characters ({len(short)} shorter)")
        return cls(service, keys, disabled, source)

    def check(self, request: Request, known_services: tuple[str, ...]) -> None:
        """Raise the 401/403/503 ApiError unless the request carries one of this service's keys."""
        if self.disabled:
            return
        if not self.keys:
            raise ApiError(503, "writes_not_configured",
                           f"writes to {self.service} are not configured: no API key is set for this service "
                           "(API_KEYS or API_KEYS_DIR)")
        presented = presented_key(request)
        if presented is None:
            raise _unauthorized(self.service, "this route writes: send the service's key as "
                                              f"'Authorization: Bearer <key>' or '{KEY_HEADER}: <key>'")
        given = presented.encode()
        matched = False
        for key in self.keys:                       # every key compared, in constant time
            matched |= hmac.compare_digest(given, key.encode())
        if matched:
            return
        owner = presented.split("_", 1)[0]
        if owner != self.service and owner in known_services:
            raise ApiError(403, "forbidden", f"a {owner} key cannot write {self.service}",
                           [{"field": "Authorization", "problem": f"a key for {owner}; this route needs a "
                                                                  f"{self.service} key"}])
        raise _unauthorized(self.service, "the key is not valid for this service")


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    key = request.headers.get(KEY_HEADER, "").strip()
    return key or None


class Unauthorized(ApiError):
    """A 401 that carries the WWW-Authenticate challenge."""

    def __init__(self, service: str, message: str):
        super().__init__(401, "unauthorized", message,
                         [{"field": "Authorization", "problem": "a valid key for this service is required"}])
        self.headers = {"WWW-Authenticate": f'Bearer realm="{service}"'}


def _unauthorized(service: str, message: str) -> Unauthorized:
    return Unauthorized(service, message)


LOCAL_KEYS_DIR = Path(__file__).resolve().parents[2] / "var" / "keys"


def main(argv: list[str] | None = None) -> int:
    """`python -m services.common.auth [DIR]`: a key file per service in DIR (default var/keys) unless it
    exists; prints where they are (make run calls it before serving)."""
    import argparse

    from .registry import load_registry

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("directory", nargs="?", type=Path, default=LOCAL_KEYS_DIR)
    args = parser.parse_args(argv)
    services = [s.name for s in load_registry().services]
    written = ensure_keys(args.directory, services)
    state = f"wrote {len(written)} new key file(s)" if written else "using the existing key files"
    print(f"write keys: {args.directory}/<service>.keys ({state}); POST /ingest and /actuals need "
          f"'Authorization: Bearer <key>' (make demo and make demo-monitoring read them)")
    return 0


def client_headers(service: str) -> dict[str, str]:
    """What a client of a write route sends (the demo, replay and bench scripts): `<SERVICE>_API_KEY`
    when set, else the newest key in `API_KEYS_DIR` (default var/keys, where `make run` writes them).
    No key found: no header (the service answers 401 and says what it needs)."""
    key = os.environ.get(f"{service.upper()}_API_KEY", "").strip()
    if not key:
        directory = Path(os.environ.get("API_KEYS_DIR") or LOCAL_KEYS_DIR)
        if key_file(directory, service).exists():
            key = read_key(directory, service)
    return {"Authorization": f"Bearer {key}"} if key else {}


if __name__ == "__main__":
    raise SystemExit(main())
