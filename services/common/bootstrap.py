"""Train every registry service whose model is missing from the store (used by `make run`).

    python -m services.common.bootstrap [--force] [service ...]

A service without a package or a train module yet is skipped with a message.
"""
from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time

from .config import load_settings
from .registry import load_registry
from .store import ModelStore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("services", nargs="*", help="services to check (default: all in the registry)")
    parser.add_argument("--force", action="store_true", help="train even when a model is published")
    args = parser.parse_args(argv)
    settings = load_settings()
    store = ModelStore(settings.model_store_uri, settings.model_cache_dir)
    names = args.services or load_registry().names()
    failed = []
    for name in names:
        if importlib.util.find_spec(f"services.{name}") is None or \
                importlib.util.find_spec(f"services.{name}.train") is None:
            print(f"[{name}] not built yet: skipped", flush=True)
            continue
        if store.has_latest(name) and not args.force:
            print(f"[{name}] model {store.latest_version(name)} is published: nothing to train", flush=True)
            continue
        print(f"[{name}] no model in {store.uri}: training (python -m services.{name}.train)", flush=True)
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", f"services.{name}.train"])
        if result.returncode != 0:
            print(f"[{name}] training FAILED (exit {result.returncode})", flush=True)
            failed.append(name)
        else:
            print(f"[{name}] trained in {time.monotonic() - started:.0f}s", flush=True)
    if failed:
        print(f"training failed for: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
