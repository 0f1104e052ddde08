"""Print a service's published metrics as Markdown tables, straight from its manifest.

    python -m services.common.report sales [--version V] [--store-uri URI] [--manifest build/manifest.json]
    python -m services.common.report --fresh sales LATER_ROWS.csv [--manifest ... | --version V] [--json]

Every metrics group shaped {model: {metric: number}} becomes one table; the summary's
statement is printed under them. The README's tables are this command's output. Manifests from
the kernel's training flow (services/common/backtest.py) also get the split plan, the
validation table the choice was made on, the seal, the test table with every baseline, the
ablation of effects, the spread over seeds, coverage per segment, and the choice. `--fresh` scores the
model on later rows of the training data's schema (services/common/fresh.py).
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


def coverage_lines(label: str, cov: dict[str, Any]) -> list[str]:
    """`backtest.coverage_by`'s result: the pooled figure, the worst segment, then a table per segment."""
    p = cov["pooled"]
    lo, hi = cov["target"]
    head = (f"**coverage by {label}** (target {lo:g}-{hi:g} in every segment: {'met' if cov['met'] else 'NOT met'}; "
            f"pooled {p['coverage']:.3f}")
    if "segments" in cov:
        head += (f", worst {cov['min']:.3f}, {cov['share_below']:.0%} of segments below {cov['floor']:g}, "
                 f"{cov['share_in_target']:.0%} within target")
    out = [head + ")", ""]
    if "segments" in cov:
        out += [f"| {label} | coverage | mean width | mean relative width | n |", "|---|---|---|---|---|"]
        out += [f"| {k} | {v['coverage']:.3f} | {_fmt(v['mean_width'])} | {_fmt(v['mean_relative_width'])} | {v['n']} |"
                for k, v in cov["segments"].items()]
        out.append("")
    return out


def _is_coverage(value: Any) -> bool:
    return isinstance(value, dict) and "pooled" in value and "target" in value


def special_lines(metrics: dict[str, Any]) -> list[str]:
    """The seal, the ablation of effects, the spread over seeds, coverage per segment, target checks."""
    out: list[str] = []
    sealed = metrics.get("sealed")
    if isinstance(sealed, dict) and "choice_sha256" in sealed:
        out += [f"- sealed test: choice sha256 `{sealed['choice_sha256'][:16]}`, frozen before any test fold was "
                f"predicted; test scored {sealed.get('test_scored', 0)} time(s)", ""]
    for family, rows in (metrics.get("ablation") or {}).items():
        out += [f"**ablation: {family}** (contribution = relative worsening of the metric without the effect; "
                "kept only with validation support)", "",
                "| effect | kept | validation contribution | test contribution |", "|---|---|---|---|"]
        out += [f"| {e} | {'yes' if r['kept'] else 'no'} | {r['validation_contribution']:+.2%} | "
                f"{r['test_contribution']:+.2%} |" for e, r in rows.items()]
        out.append("")
    seeds = metrics.get("seeds")
    if isinstance(seeds, dict):
        if seeds.get("deterministic"):
            out += [f"- seeds: {seeds['model']} is deterministic (no spread over seeds)", ""]
        elif "test" in seeds:
            t, r = seeds["test"], seeds.get("ratio_to_baseline")
            line = (f"- seeds: {seeds['model']} test {seeds['metric']} over {len(t['seeds'])} seeds: mean "
                    f"{_fmt(t['mean'])}, sd {_fmt(t['std'])}, range {_fmt(t['min'])}-{_fmt(t['max'])}")
            if r:
                line += f"; ratio to the baseline {r['mean']:.3f} (range {r['min']:.3f}-{r['max']:.3f})"
            out += [line, ""]
    for key, value in metrics.items():
        if _is_coverage(value):
            out += coverage_lines(key.removeprefix("coverage_by_").replace("_", " "), value)
    targets = metrics.get("targets")
    if isinstance(targets, dict):
        out += [f"- target: {v['statement']}" for v in targets.values() if isinstance(v, dict) and "statement" in v]
        out.append("")
    return out


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
        if group in ("ablation", "seeds", "targets", "sealed") or _is_coverage(rows):
            continue
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
    out += special_lines(metrics)
    for key, value in metrics.items():
        if isinstance(value, dict) and "statement" in value:
            out.append(f"- {key}: {value['statement']}")
    return "\n".join(out).rstrip() + "\n"


def _model(args) -> tuple[Path | None, dict[str, Any], str]:
    """The manifest to report (a build folder's, or a store version) and, when asked, its verified folder."""
    if args.manifest is not None:
        manifest = json.loads(args.manifest.read_text())
        return args.manifest.parent, manifest, manifest.get("version")
    settings = load_settings()
    store = ModelStore(args.store_uri or settings.model_store_uri, settings.model_cache_dir)
    version = args.version or store.latest_version(args.service)
    if args.fresh:
        directory, manifest = store.fetch(args.service, version)
        return directory, manifest, version
    return None, store.manifest(args.service, version), version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service")
    parser.add_argument("file", nargs="?", type=Path, default=None,
                        help="with --fresh: later rows in the training data's schema")
    parser.add_argument("--fresh", action="store_true",
                        help="score the model and the baselines on FILE's rows after the model's data end")
    parser.add_argument("--json", action="store_true", help="with --fresh: print the result as JSON")
    parser.add_argument("--version", default=None, help="default: the LATEST version")
    parser.add_argument("--store-uri", default=None)
    parser.add_argument("--manifest", type=Path, default=None,
                        help="read this manifest.json (e.g. a build folder's) instead of the store")
    args = parser.parse_intermixed_args(argv)
    if args.fresh != (args.file is not None):
        parser.error("--fresh needs FILE, and FILE needs --fresh")
    directory, manifest, version = _model(args)
    if manifest.get("service") not in (None, args.service):
        parser.error(f"the manifest is {manifest.get('service')}'s, not {args.service}'s")
    if args.fresh:
        from .fresh import FreshDataError, render, run_fresh

        try:
            result = run_fresh(args.service, directory, manifest, args.file)
        except FreshDataError as exc:
            print(f"report --fresh: {exc}", file=sys.stderr)
            return 2
        if args.json:
            from .export import dumps

            sys.stdout.write(dumps(result, indent=2))
        else:
            print(f"{args.service} model {version} on fresh rows of {args.file} (data end {manifest.get('data_end')})\n")
            sys.stdout.write(render(result))
        return 0
    print(f"{args.service} model {version} (trained {manifest.get('created_at')}, "
          f"code {manifest.get('code_revision')})\n")
    holdout = manifest.get("metrics", {}).get("holdout")
    if holdout:
        print("hold-out: " + ", ".join(f"{k} {v}" for k, v in holdout.items()) + "\n")
    sys.stdout.write(tables(manifest.get("metrics", {})))
    return 0


if __name__ == "__main__":
    sys.exit(main())
