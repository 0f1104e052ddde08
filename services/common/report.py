"""Print a service's published metrics as Markdown tables, straight from its manifest.

    python -m services.common.report sales [--version V] [--store-uri URI]

Every metrics group shaped {model: {metric: number}} becomes one table; the summary's
statement is printed under them. The README's tables are this command's output.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from .config import load_settings
from .store import ModelStore


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 100 else f"{value:.4g}"
    return str(value)


def tables(metrics: dict[str, Any]) -> str:
    out = []
    for group, rows in metrics.items():
        if not isinstance(rows, dict) or not rows or not all(isinstance(r, dict) for r in rows.values()):
            continue
        if not all(isinstance(v, (int, float)) for r in rows.values() for v in r.values()):
            continue
        columns: list[str] = []
        for row in rows.values():
            columns += [c for c in row if c not in columns]
        out.append(f"**{group}**\n")
        first = "name" if "model" in columns else "model"
        out.append(f"| {first} | " + " | ".join(columns) + " |")
        out.append("|---|" + "---|" * len(columns))
        for name, row in rows.items():
            out.append(f"| {name} | " + " | ".join(_fmt(row.get(c, "")) for c in columns) + " |")
        out.append("")
    for key, value in metrics.items():
        if isinstance(value, dict) and "statement" in value:
            out.append(f"- {key}: {value['statement']}")
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service")
    parser.add_argument("--version", default=None, help="default: the LATEST version")
    parser.add_argument("--store-uri", default=None)
    args = parser.parse_args(argv)
    settings = load_settings()
    store = ModelStore(args.store_uri or settings.model_store_uri, settings.model_cache_dir)
    version = args.version or store.latest_version(args.service)
    manifest = store.manifest(args.service, version)
    print(f"{args.service} model {version} (trained {manifest.get('created_at')}, "
          f"code {manifest.get('code_revision')})\n")
    holdout = manifest.get("metrics", {}).get("holdout")
    if holdout:
        print("hold-out: " + ", ".join(f"{k} {v}" for k, v in holdout.items()) + "\n")
    sys.stdout.write(tables(manifest.get("metrics", {})))
    return 0


if __name__ == "__main__":
    sys.exit(main())
