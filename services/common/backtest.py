"""Backtests, metric tables, the choice, and the one training flow every service uses.

    plan -> backtest(models) -> score on validation -> choose -> score chosen + every baseline
    on test -> refit the chosen model on all rows -> (the service exports) -> training.finish

`backtest` returns one tidy long table (as statsforecast's cross_validation and utilsforecast's
evaluate expect): fold, role, origin, horizon, model, row, the caller's key columns, actual,
prediction (and lower/upper with a level). Metrics are the plain functions of
services/common/evaluation.py, applied to that table by `score`; the choice reads validation
rows only. Training code only: serving never imports this module.
"""
from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from . import evaluation as ev
from .modeling import fresh, has_intervals
from .splits import TEST, VALIDATION

TABLE_COLUMNS = ["fold", "role", "origin", "horizon", "model", "row"]


def _check_names(models: Sequence[Any]) -> list[str]:
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ValueError(f"model names must be unique: {names}")
    return names


def backtest(models: Sequence[Any], frame: pd.DataFrame, plan: Any, *, target: str = "y",
             keys: Sequence[str] = (), carry: Sequence[str] = (), level: float | None = None,
             quiet: bool = True, label: str = "backtest") -> pd.DataFrame:
    """Fit every model on each fold's fitting rows and predict its rows; one long table back.

    `keys` and `carry` are frame columns copied into the table (row keys; weights, flags for
    metrics). With `level`, models that have `predict_interval` add lower/upper (NaN otherwise).
    Every model of a fold sees the same rows; predictions must be finite, one per row.
    """
    from tqdm import tqdm

    _check_names(models)
    folds = plan.folds(frame)
    parts = []
    bar = tqdm(total=len(folds) * len(models), desc=label, disable=quiet, file=sys.stderr)
    for fold in folds:
        fit_rows = frame.loc[fold.fit]
        rows = frame.loc[fold.predict]
        hidden = rows.drop(columns=[target])
        actual = rows[target].to_numpy(float)
        for model in models:
            fitted = fresh(model).fit(fit_rows)
            predicted = np.asarray(fitted.predict(hidden), dtype=float).ravel()
            if predicted.shape != actual.shape or not np.all(np.isfinite(predicted)):
                raise ValueError(f"{model.name}: fold {fold.index} gave {predicted.shape} predictions "
                                 f"(finite: {bool(np.all(np.isfinite(predicted)))}) for {actual.size} rows")
            part = {"fold": fold.index, "role": fold.role, "origin": fold.origin,
                    "horizon": fold.horizon if fold.horizon is not None else np.full(actual.size, -1),
                    "model": model.name, "row": rows.index.to_numpy()}
            part.update({c: rows[c].to_numpy() for c in (*keys, *carry)})
            part.update(actual=actual, prediction=predicted)
            if level is not None:
                lower = upper = np.full(actual.size, np.nan)
                if has_intervals(fitted):
                    lower, upper = (np.asarray(a, dtype=float).ravel() for a in fitted.predict_interval(hidden, level))
                part.update(lower=lower, upper=upper)
            parts.append(pd.DataFrame(part))
            bar.update()
    bar.close()
    return pd.concat(parts, ignore_index=True)


# -- metric tables ------------------------------------------------------------------------------
_ARGUMENTS = {"actual": "actual", "predicted": "prediction", "lower": "lower", "upper": "upper"}


def _apply(metric: Callable, rows: pd.DataFrame, weights: str | None) -> float:
    """Call an evaluation function by its parameter names (actual, predicted, weights, lower, upper)."""
    kwargs = {}
    for name in inspect.signature(metric).parameters:
        if name == "weights":
            if weights is None:
                raise ValueError(f"{getattr(metric, '__name__', metric)} needs weights=; none given")
            kwargs[name] = rows[weights].to_numpy(float)
        elif name in _ARGUMENTS:
            column = _ARGUMENTS[name]
            if column not in rows or rows[column].isna().all():
                raise ValueError(f"{getattr(metric, '__name__', metric)} needs {column!r}, which the table lacks")
            kwargs[name] = rows[column].to_numpy(float)
    return float(metric(**kwargs))


def score(table: pd.DataFrame, metrics: dict[str, Callable], *, by: Sequence[str] = ("role", "model"),
          weights: str | None = None, models: Sequence[str] | None = None) -> dict[Any, Any]:
    """Nested {by[0]: {by[1]: ... {metric: value, "n": rows}}}, in the order models were listed."""
    order = list(models) if models is not None else list(dict.fromkeys(table["model"]))
    out: dict[Any, Any] = {}
    for key, rows in table.groupby(list(by), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        node = out
        for part in key[:-1]:
            node = node.setdefault(part.item() if isinstance(part, np.generic) else part, {})
        values = {name: _apply(fn, rows, weights) for name, fn in metrics.items()}
        values["n"] = int(len(rows))
        node[key[-1].item() if isinstance(key[-1], np.generic) else key[-1]] = values
    if by and by[-1] == "model":   # list models in the caller's order, not alphabetically
        def reorder(node, depth):
            if depth == len(by) - 1:
                return {m: node[m] for m in order if m in node}
            return {k: reorder(v, depth + 1) for k, v in node.items()}
        out = reorder(out, 0)
    return out


# -- the choice ---------------------------------------------------------------------------------
@dataclass
class Choice:
    chosen: str
    metric: str
    lower_is_better: bool
    rule: str
    margin: float
    validation: dict[str, float]
    best_candidate: str
    strongest_baseline: str           # best baseline on validation
    reason: str
    candidates: list[str] = field(default_factory=list)
    baselines: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"chosen": self.chosen, "metric": self.metric, "lower_is_better": self.lower_is_better,
                "rule": self.rule, "margin": self.margin, "validation_scores": self.validation,
                "best_candidate": self.best_candidate, "strongest_baseline_on_validation": self.strongest_baseline,
                "candidates": self.candidates, "baselines": self.baselines, "reason": self.reason}


def _best(scores: dict[str, float], names: Sequence[str], lower_is_better: bool) -> str:
    """The best name; ties go to the one listed first (deterministic)."""
    sign = 1.0 if lower_is_better else -1.0
    return min(names, key=lambda n: (sign * scores[n], list(names).index(n)))


def choose(table: pd.DataFrame, metrics: dict[str, Callable], *, metric: str, candidates: Sequence[str],
           baselines: Sequence[str], lower_is_better: bool = True, margin: float = 0.0,
           serve_baseline: bool = True, weights: str | None = None) -> Choice:
    """Pick on validation rows only. The best candidate is chosen if it beats the strongest baseline by
    more than `margin` (relative); otherwise, with `serve_baseline`, that baseline is chosen. Without
    `serve_baseline` (a service whose product is the candidate), the best candidate is chosen anyway
    and the reason says whether it beat the baseline."""
    if metric not in metrics or not candidates or not baselines:
        raise ValueError("choose needs the metric among metrics, and at least one candidate and one baseline")
    if serve_baseline and len(baselines) < 2:
        raise ValueError("serve_baseline needs two baselines: a served baseline is reported against the other")
    validation = table[table["role"] == VALIDATION]
    if validation.empty:
        raise ValueError("no validation rows to choose on")
    names = [*candidates, *baselines]
    scores = {m: v[metric] for m, v in score(validation, {metric: metrics[metric]}, by=("model",),
                                                    weights=weights, models=names).items()}
    missing = [n for n in names if n not in scores]
    if missing:
        raise ValueError(f"models without validation rows: {missing}")
    best_candidate = _best(scores, candidates, lower_is_better)
    strongest = _best(scores, baselines, lower_is_better)
    c, b = scores[best_candidate], scores[strongest]
    edge = (b - c) if lower_is_better else (c - b)          # > 0: the candidate is better
    gain = edge / abs(b) if b else (float("inf") if edge > 0 else 0.0)
    wins = gain > margin
    chosen = best_candidate if wins or not serve_baseline else strongest
    better = "lower" if lower_is_better else "higher"
    rule = (f"best candidate by validation {metric} ({better} is better); it is served only if it beats the "
            f"strongest baseline by more than {margin:.1%}, else that baseline is served") if serve_baseline else (
            f"best candidate by validation {metric} ({better} is better); candidates only (the baselines are "
            f"reported, not served)")
    verdict = "beats" if wins else "does not beat"
    reason = (f"{best_candidate} {verdict} the strongest baseline {strongest} on validation by the margin: "
              f"{metric} {c:.6g} vs {b:.6g} ({gain:+.2%}); served: {chosen}")
    return Choice(chosen=chosen, metric=metric, lower_is_better=lower_is_better, rule=rule, margin=margin,
                  validation=scores, best_candidate=best_candidate, strongest_baseline=strongest, reason=reason,
                  candidates=list(candidates), baselines=list(baselines))


def summarize(test_scores: dict[str, dict[str, float]], choice: Choice, note: str = "") -> dict[str, Any]:
    """evaluation.summary of the chosen model against the strongest other baseline on the same test rows."""
    others = [b for b in choice.baselines if b != choice.chosen]
    if not others:
        raise ValueError("a summary needs a baseline other than the chosen model")
    strongest = _best({n: test_scores[n][choice.metric] for n in others}, others, choice.lower_is_better)
    return ev.summary(model=choice.chosen, baseline=strongest, metric=choice.metric,
                      model_score=test_scores[choice.chosen][choice.metric],
                      baseline_score=test_scores[strongest][choice.metric], lower_is_better=choice.lower_is_better,
                      note=note or "test windows, chosen on earlier validation windows; baseline = the best of "
                                   f"{len(others)} on the same rows")


# -- the flow -----------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What the flow hands back: the table, the scores, the choice, and the refitted chosen model."""

    table: pd.DataFrame
    plan: dict[str, Any]
    validation: dict[str, dict[str, float]]
    test: dict[str, dict[str, float]]
    choice: Choice
    model: Any                 # the chosen model refitted on every row: the one to export and serve
    summary: dict[str, Any]
    by_horizon: dict[str, dict[str, float]] | None = None

    def rows(self, role: str, model: str | None = None) -> pd.DataFrame:
        """The table's rows of one role, of the chosen model unless another is named."""
        t = self.table
        return t[(t["role"] == role) & (t["model"] == (model or self.choice.chosen))]

    def metrics(self, **extra: Any) -> dict[str, Any]:
        """The manifest's `metrics`: plan, validation scores, choice, test table with every baseline, summary."""
        folds = self.plan["folds"]
        test_folds = [f for f in folds if f["role"] == TEST]
        holdout = {"plan": self.plan["kind"], "validation_folds": len(folds) - len(test_folds),
                   "test_folds": len(test_folds), "test_rows": sum(f["predict"]["rows"] for f in test_folds)}
        if "first" in test_folds[0]["predict"]:
            holdout.update(test_first=test_folds[0]["predict"]["first"], test_last=test_folds[-1]["predict"]["last"])
        out = {"holdout": holdout, "split_plan": self.plan, "validation": self.validation,
               "choice": self.choice.as_json(), "test": self.test}
        if self.by_horizon:
            out["test_by_horizon"] = self.by_horizon
        out.update(extra)
        out["summary"] = self.summary
        return out


def run(frame: pd.DataFrame, plan: Any, *, candidates: Sequence[Any], baselines: Sequence[Any],
        metrics: dict[str, Callable], metric: str, target: str = "y", keys: Sequence[str] = (),
        carry: Sequence[str] = (), weights: str | None = None, level: float | None = None,
        lower_is_better: bool = True, margin: float = 0.0, serve_baseline: bool = True, note: str = "",
        by_horizon: bool = True, quiet: bool = True, label: str = "backtest") -> Outcome:
    """The training flow: backtest every candidate and baseline on the plan's folds, choose on
    validation, report on test, refit the chosen model on all rows. `by_horizon`: also the test
    metric per horizon (when horizons exceed 1; off where the horizon is not a forecast lead)."""
    models = [*candidates, *baselines]
    names = _check_names(models)
    carry = [c for c in dict.fromkeys([*carry, *([weights] if weights else [])]) if c not in keys]
    table = backtest(models, frame, plan, target=target, keys=keys, carry=carry, level=level, quiet=quiet,
                     label=label)
    choice = choose(table, metrics, metric=metric, candidates=[m.name for m in candidates],
                    baselines=[m.name for m in baselines], lower_is_better=lower_is_better, margin=margin,
                    serve_baseline=serve_baseline, weights=weights)
    validation = score(table[table["role"] == VALIDATION], metrics, by=("model",), weights=weights, models=names)
    test_rows = table[table["role"] == TEST]
    test = score(test_rows, metrics, by=("model",), weights=weights, models=names)
    per_horizon = None
    if by_horizon and (test_rows["horizon"] > 1).any():
        nested = score(test_rows, {metric: metrics[metric]}, by=("model", "horizon"), weights=weights)
        per_horizon = {m: {f"h{h}": v[metric] for h, v in nested[m].items()} for m in names}
    model = fresh(next(m for m in models if m.name == choice.chosen)).fit(frame)
    return Outcome(table=table, plan=plan.describe(frame), validation=validation, test=test, choice=choice,
                   model=model, summary=summarize(test, choice, note), by_horizon=per_horizon)
