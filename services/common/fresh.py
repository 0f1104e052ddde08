"""Score a published model on rows it never saw: later data in the training data's own schema.

    python -m services.common.report --fresh <svc> FILE [--manifest DIR/manifest.json | --version V]

A service supplies `services/<svc>/fresh.py` with `evaluate(model_dir, manifest, path) -> FreshTable`:
it reads FILE (the same columns as the file it trains on), keeps the rows after the model's
`data_end`, predicts them with the served artifact (as serving loads it) and with the baselines
fitted on the data the model was trained on, and returns one long table. Everything else is here:
the metric table, the served model's ratio to the strongest baseline with its block-bootstrap
interval, and interval coverage per segment. Training code only (pandas): serving never imports it.

To try it on the shipped data, train with `--until DATE` (the rows after DATE are not trained on)
and pass the whole data file: only rows after the model's data end are scored.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from . import evaluation as ev
from .backtest import ROW_LOSSES, _best, coverage_by, score


class FreshDataError(ValueError):
    """The file cannot be scored (wrong columns, no rows after the model's data end)."""


@dataclass
class FreshTable:
    """One row per (model, scored row): `model`, `row`, `actual`, `prediction` (and `lower`, `upper` for
    the served model where it has intervals), plus the `block`, `weights` and `segments` columns."""

    table: pd.DataFrame
    metric: str
    metrics: dict[str, Callable]
    served: str
    baselines: list[str]
    description: str
    weights: str | None = None
    block: str = "row"
    segments: Sequence[str | Sequence[str]] = ()
    lower_is_better: bool = True
    extra: dict[str, Any] = field(default_factory=dict)   # service groups, rendered as they are


def rows_after(frame: pd.DataFrame, column: str, data_end: Any) -> pd.DataFrame:
    """The rows strictly after the model's last training time; refuses a file with none."""
    later = frame[frame[column] > data_end]
    if later.empty:
        raise FreshDataError(f"no rows after the model's data end {data_end} in column {column!r} "
                             f"(the file ends {frame[column].max()}); train with --until to leave some")
    return later


def data_end(manifest: dict[str, Any]) -> str:
    end = manifest.get("data_end")
    if not end:
        raise FreshDataError("the manifest has no data_end (a version trained before fresh-data checks); retrain")
    return end


def evaluate(fresh: FreshTable, *, seed: int = 0) -> dict[str, Any]:
    """Scores of every model, the served model's verdict against the strongest baseline with its
    interval over blocks, and coverage per segment (JSON-ready)."""
    t = fresh.table
    names = [fresh.served, *fresh.baselines]
    missing = [n for n in names if n not in set(t["model"])]
    if missing:
        raise FreshDataError(f"models without rows: {missing}")
    scores = score(t, fresh.metrics, by=("model",), weights=fresh.weights, models=names)
    strongest = _best({b: scores[b][fresh.metric] for b in fresh.baselines}, fresh.baselines, fresh.lower_is_better)
    interval = None
    loss = ROW_LOSSES.get(fresh.metrics[fresh.metric])
    if loss is not None:
        a = t[t["model"] == fresh.served].set_index("row").sort_index()
        b = t[t["model"] == strongest].set_index("row").sort_index()
        if not a.index.equals(b.index):
            raise FreshDataError(f"{fresh.served} and {strongest} must predict the same rows")
        try:
            interval = ev.bootstrap_ratio(loss(a["actual"].to_numpy(float), a["prediction"].to_numpy(float)),
                                          loss(b["actual"].to_numpy(float), b["prediction"].to_numpy(float)),
                                          a.index.to_numpy() if fresh.block == "row" else a[fresh.block].to_numpy(),
                                          weights=None if fresh.weights is None else a[fresh.weights].to_numpy(float),
                                          seed=seed)
            interval["block"] = fresh.block
        except ValueError:
            interval = None
    out: dict[str, Any] = {
        "description": fresh.description,
        "rows": int((t["model"] == fresh.served).sum()),
        "fresh": scores,
        "summary": ev.summary(model=fresh.served, baseline=strongest, metric=fresh.metric,
                              model_score=scores[fresh.served][fresh.metric],
                              baseline_score=scores[strongest][fresh.metric],
                              lower_is_better=fresh.lower_is_better, evidence="fresh rows", interval=interval),
    }
    served = t[t["model"] == fresh.served]
    if {"lower", "upper"} <= set(served.columns) and served[["lower", "upper"]].notna().all().all():
        out["coverage"] = {"pooled": coverage_by(served)["pooled"]}
        for seg in fresh.segments:
            label = seg if isinstance(seg, str) else "/".join(seg)
            out["coverage"][label] = coverage_by(served, seg)
    out.update(fresh.extra)
    return out


def render(result: dict[str, Any]) -> str:
    """The fresh-data report as Markdown (the same tables as the training report)."""
    from .report import coverage_lines

    lines = [result["description"], "", f"rows scored: {result['rows']}", "", "**fresh**", ""]
    columns: list[str] = []
    for row in result["fresh"].values():
        columns += [c for c in row if c not in columns]
    lines.append("| model | " + " | ".join(columns) + " |")
    lines.append("|---|" + "---|" * len(columns))
    for name, row in result["fresh"].items():
        label = f"{name} **served**" if name == result["summary"]["model"] else f"{name} (baseline)"
        lines.append(f"| {label} | " + " | ".join(_fmt(row.get(c)) for c in columns) + " |")
    lines.append("")
    for label, cov in (result.get("coverage") or {}).items():
        if label == "pooled":
            p = cov
            lines.append(f"- interval coverage, pooled: {p['coverage']:.3f} (mean width {_fmt(p['mean_width'])}, "
                         f"n {p['n']})")
        else:
            lines += coverage_lines(label, cov)
    lines.append(f"- summary: {result['summary']['statement']}")
    lines += [f"- {key}: {_extra(value)}" for key, value in result.items() if key not in _STANDARD]
    return "\n".join(lines).rstrip() + "\n"


_STANDARD = ("description", "rows", "fresh", "summary", "coverage")   # what render() lays out itself


def _extra(value: Any) -> str:
    """A service's own group (FreshTable.extra) on one line: its statement if it has one."""
    if isinstance(value, dict):
        if "statement" in value:
            return str(value["statement"])
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
    if isinstance(value, list):
        return f"{len(value)}" + (f" ({'; '.join(map(str, value[:3]))}{'; ...' if len(value) > 3 else ''})"
                                  if value else "")
    return _fmt(value)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 100 else f"{value:.4g}"
    return "" if value is None else str(value)


def run_fresh(service: str, model_dir: Path, manifest: dict[str, Any], path: Path) -> dict[str, Any]:
    try:
        module = importlib.import_module(f"services.{service}.fresh")
    except ModuleNotFoundError as exc:
        if exc.name != f"services.{service}.fresh":
            raise
        raise FreshDataError(f"{service} has no fresh-data check (services/{service}/fresh.py)") from None
    if not Path(path).is_file():
        raise FreshDataError(f"{path}: no such file")
    return evaluate(module.evaluate(Path(model_dir), manifest, Path(path)))


def finite(values: np.ndarray, label: str) -> np.ndarray:
    """Predictions a fresh table may hold: finite numbers only."""
    values = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(values)):
        raise FreshDataError(f"{label}: non-finite predictions")
    return values
