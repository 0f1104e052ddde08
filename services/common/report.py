"""Print a service's published metrics as Markdown tables, straight from its manifest.

    python -m services.common.report sales [--version V] [--store-uri URI] [--manifest build/manifest.json]

Every metrics group shaped {model: {metric: number}} becomes one table; the summary's
statement is printed under them. The README's tables are this command's output. Manifests from
the kernel's training flow (services/common/backtest.py) also get the split plan, the
validation table the choice was made on, the test table with every baseline, and the choice.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .config import load_settings
from .store import ModelStore


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 100 else f"{value:.4g}"
    return str(value)


def _labels(metrics: dict[str, Any]) -> dict[str, str]:
    """Row labels that say which rows are baselines and which model is served."""
    choice = metrics.get("choice")
    if not isinstance(choice, dict):
        return {}
    labels = {name: f"{name} (baseline)" for name in choice.get("baselines", [])}
    chosen = choice.get("chosen")
    if chosen:
        labels[chosen] = f"{labels.get(chosen, chosen)} **chosen**"
    return labels


def plan_lines(plan: dict[str, Any]) -> list[str]:
    folds = plan.get("folds", [])
    out = []
    for role in ("validation", "test"):
        chosen = [f for f in folds if f["role"] == role]
        if not chosen:
            continue
        rows = sum(f["predict"]["rows"] for f in chosen)
        span = ""
        if "first" in chosen[0]["predict"]:
            span = f", {chosen[0]['predict']['first']} .. {chosen[-1]['predict']['last']}"
        out.append(f"- {role}: {len(chosen)} fold(s), {rows} rows{span}")
    params = {k: v for k, v in plan.items() if k not in ("folds", "kind") and v not in (None, False)}
    head = f"split plan: {plan.get('kind')} (" + ", ".join(f"{k} {v}" for k, v in params.items()) + ")"
    return [head, *out]


def tables(metrics: dict[str, Any]) -> str:
    """Markdown for one flow's metrics; a manifest with one flow per segment (e.g. per competition)
    keeps them under `segments`, each rendered under its own heading, then the rest."""
    segments = metrics.get("segments")
    if isinstance(segments, dict) and segments and all(isinstance(s, dict) for s in segments.values()):
        parts = [f"#### {name}\n\n" + tables(seg) for name, seg in segments.items()]
        rest = {k: v for k, v in metrics.items() if k != "segments"}
        return "\n".join(parts) + ("\n" + _tables(rest) if any(isinstance(v, dict) for v in rest.values()) else "")
    return _tables(metrics)


def _tables(metrics: dict[str, Any]) -> str:
    out = []
    labels = _labels(metrics)
    if isinstance(metrics.get("split_plan"), dict):
        out += plan_lines(metrics["split_plan"]) + [""]
    first = [g for g in ("validation", "test", "test_by_horizon") if g in metrics]
    choice = metrics.get("choice") if isinstance(metrics.get("choice"), dict) else {}
    listed = [*choice.get("candidates", []), *choice.get("baselines", [])]
    for group in [*first, *(g for g in metrics if g not in first)]:
        rows = metrics[group]
        if group in first and listed and isinstance(rows, dict):     # candidates, then baselines
            rows = {**{n: rows[n] for n in listed if n in rows}, **{n: r for n, r in rows.items() if n not in listed}}
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
            out.append(f"| {labels.get(name, name)} | " + " | ".join(_fmt(row.get(c, "")) for c in columns) + " |")
        out.append("")
    if "chosen" in choice:
        out.append(f"- choice: {choice['reason']}")
        out.append(f"- rule: {choice['rule']}")
    for key, value in metrics.items():
        if isinstance(value, dict) and "statement" in value:
            out.append(f"- {key}: {value['statement']}")
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service")
    parser.add_argument("--version", default=None, help="default: the LATEST version")
    parser.add_argument("--store-uri", default=None)
    parser.add_argument("--manifest", type=Path, default=None,
                        help="read this manifest.json (e.g. a build folder's) instead of the store")
    args = parser.parse_args(argv)
    if args.manifest is not None:
        manifest = json.loads(args.manifest.read_text())
        version = manifest.get("version")
    else:
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
