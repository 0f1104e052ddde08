"""Inspect the model store and move LATEST.

    python -m services.common.store_cli list <service>
    python -m services.common.store_cli rollback <service> <version>
    python -m services.common.store_cli publish <service> <version-folder>

Uses MODEL_STORE_URI (or --store-uri) and honours AWS_ENDPOINT_URL like the services do.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import load_settings
from .manifest import IntegrityError
from .store import ModelStore, StoreError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store-uri", default=None)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="versions of a service, LATEST marked").add_argument("service")
    rollback = sub.add_parser("rollback", help="point LATEST at an existing, verified version")
    rollback.add_argument("service")
    rollback.add_argument("version")
    publish = sub.add_parser("publish", help="upload a built version folder, then move LATEST")
    publish.add_argument("service")
    publish.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    settings = load_settings()
    store = ModelStore(args.store_uri or settings.model_store_uri, settings.model_cache_dir)
    try:
        if args.command == "list":
            latest = store.latest_version(args.service) if store.has_latest(args.service) else None
            for version in store.versions(args.service):
                print(f"{version}{'  <- LATEST' if version == latest else ''}")
        elif args.command == "rollback":
            previous = store.rollback(args.service, args.version)
            print(f"{args.service}: LATEST {previous or '(none)'} -> {args.version}")
        else:
            print(f"{args.service}: published {store.publish(args.service, args.folder)}")
    except (StoreError, IntegrityError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
