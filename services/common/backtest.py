"""Backtests, metric tables, the choice, and the one training flow every service uses.

    plan -> backtest the validation folds -> choose -> freeze the choice (its sha256) ->
    backtest the test folds once -> score chosen + every baseline on test (with a block-bootstrap
    interval and, for seeded models, the spread over seeds) -> refit the chosen model on all rows
    -> (the service exports) -> training.finish

The test folds are not predicted until the choice is frozen: nothing decided in `run` (the model,
effects selected with `select_effects`) can depend on a test row.

`backtest` returns one tidy long table (as statsforecast's cross_validation and utilsforecast's
evaluate expect): fold, role, origin, horizon, model, row, the caller's key columns, actual,
prediction (and lower/upper with a level). Metrics are the plain functions of
services/common/evaluation.py, applied to that table by `score`; the choice reads validation
rows only. Training code only: serving never imports this module.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import logging
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from . import evaluation as ev
from .modeling import fresh, has_intervals
from .splits import ROLES, TEST, VALIDATION

log = logging.getLogger("services.backtest")

TABLE_COLUMNS = ["fold", "role", "origin", "horizon", "model", "row"]


def _check_names(models: Sequence[Any]) -> list[str]:
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ValueError(f"model names must be unique: {names}")
    return names


def backtest(models: Sequence[Any], frame: pd.DataFrame, plan: Any, *, target: str = "y",
             keys: Sequence[str] = (), carry: Sequence[str] = (), level: float | None = None,
             quiet: bool = True, label: str = "backtest", roles: Sequence[str] = ROLES) -> pd.DataFrame:
    """Fit every model on each fold's fitting rows and predict its rows; one long table back.

    `keys` and `carry` are frame columns copied into the table (row keys; weights, flags for
    metrics). With `level`, models that have `predict_interval` add lower/upper (NaN otherwise).
    Every model of a fold sees the same rows; predictions must be finite, one per row. `roles`:
    only the folds of these roles (the flow backtests validation first, test after the choice).
    """
    from tqdm import tqdm

    _check_names(models)
    folds = [f for f in plan.folds(frame) if f.role in roles]
    if not folds:
        raise ValueError(f"the plan has no folds of roles {list(roles)}")
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


def summarize(test_scores: dict[str, dict[str, float]], choice: Choice, note: str = "",
              interval: Callable[[str], dict[str, Any] | None] | None = None) -> dict[str, Any]:
    """evaluation.summary of the chosen model on the test rows against the strongest other baseline
    *on validation* (named before the test was scored, so the test cannot pick the yardstick);
    `interval(baseline)` gives the ratio's bootstrap interval against it. When another baseline is
    stronger on the test rows, the ratio to that one is recorded and said beside the headline."""
    others = [b for b in choice.baselines if b != choice.chosen]
    if not others:
        raise ValueError("a summary needs a baseline other than the chosen model")
    strongest = _best({n: choice.validation[n] for n in others}, others, choice.lower_is_better)
    on_test = _best({n: test_scores[n][choice.metric] for n in others}, others, choice.lower_is_better)
    note = note or "test windows, chosen on earlier validation windows"
    note += f"; baseline = the strongest of {len(others)} on validation"
    model_score, test_best = test_scores[choice.chosen][choice.metric], test_scores[on_test][choice.metric]
    ratio = model_score / test_best if test_best else float("nan")
    if on_test != strongest:
        note += f"; on the test rows {on_test} was stronger: ratio {ratio:.3f} to it"
    out = ev.summary(model=choice.chosen, baseline=strongest, metric=choice.metric,
                     model_score=test_scores[choice.chosen][choice.metric],
                     baseline_score=test_scores[strongest][choice.metric], lower_is_better=choice.lower_is_better,
                     interval=interval(strongest) if interval else None, note=note)
    if on_test != strongest:
        out["strongest_baseline_on_test"] = {"baseline": on_test, "baseline_score": test_best,
                                             "ratio_to_baseline": ratio,
                                             "interval": interval(on_test) if interval else None}
    return out


# -- uncertainty: per-row losses, block bootstrap, segments -------------------------------------
def _absolute(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    return np.abs(actual - predicted)


def _neg_log(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    return np.where(actual > 0, actual * -np.log(np.where(actual > 0, predicted, 1.0)), 0.0)


# metrics that are a weighted mean of a per-row loss, so a ratio of two models is a ratio of sums
ROW_LOSSES: dict[Callable, Callable] = {ev.mae: _absolute, ev.wmae: _absolute, ev.log_loss: _neg_log}


def ratio_interval(table: pd.DataFrame, model: str, baseline: str, *, metric: Callable, block: str = "fold",
                   weights: str | None = None, role: str | None = TEST, seed: int = 0,
                   replicates: int = 2000) -> dict[str, Any]:
    """`model`'s metric over `baseline`'s on the same rows, with a bootstrap interval over whole
    `block`s (origins, matches, regimes), never rows: rows of one block share their errors."""
    loss = ROW_LOSSES.get(metric)
    if loss is None:
        raise ValueError(f"{getattr(metric, '__name__', metric)} is not a mean of per-row losses; no ratio interval")
    rows = table if role is None else table[table["role"] == role]
    a = rows[rows["model"] == model].set_index(["fold", "row"]).sort_index()
    b = rows[rows["model"] == baseline].set_index(["fold", "row"]).sort_index()
    if len(a) == 0 or not a.index.equals(b.index):
        raise ValueError(f"{model} and {baseline} must have predicted the same rows")
    if block not in a.columns and block not in a.index.names:
        raise ValueError(f"block column {block!r} is not in the table (carry it)")
    blocks = (a.index.get_level_values(block) if block in a.index.names else a[block]).to_numpy()
    out = ev.bootstrap_ratio(loss(a["actual"].to_numpy(float), a["prediction"].to_numpy(float)),
                             loss(b["actual"].to_numpy(float), b["prediction"].to_numpy(float)),
                             blocks, weights=None if weights is None else a[weights].to_numpy(float),
                             replicates=replicates, seed=seed)
    return {"model": model, "baseline": baseline, "block": block, **out}


def coverage_by(rows: pd.DataFrame, by: str | Sequence[str] | None = None, *,
                target: tuple[float, float] = (0.85, 0.95), floor: float = 0.8) -> dict[str, Any]:
    """Interval coverage and width per segment (one model's rows with lower/upper): a pooled 90% that
    hides a holiday week covered 75% of the time is a miss. Over-coverage (wide intervals) is a miss too.

    Returns {"segments": {value: {coverage, mean_width, mean_relative_width, n}}, "pooled": {...},
    "min": worst segment's coverage, "share_below": share of segments under `floor`,
    "share_in_target": share within `target`, "met": every segment within target}."""
    if rows[["lower", "upper"]].isna().any().any():
        raise ValueError("coverage needs lower and upper on every row")

    def one(part: pd.DataFrame) -> dict[str, float]:
        width = (part["upper"] - part["lower"]).to_numpy(float)
        centre = np.abs(part["prediction"].to_numpy(float))
        return {"coverage": ev.coverage(part["actual"], part["lower"], part["upper"]),
                "mean_width": float(width.mean()),
                "mean_relative_width": float(np.mean(width / np.where(centre > 0, centre, np.nan))),
                "n": int(len(part))}

    out: dict[str, Any] = {"pooled": one(rows), "target": list(target), "floor": floor}
    if by is None:
        out["met"] = bool(target[0] <= out["pooled"]["coverage"] <= target[1])
        return out
    columns = [by] if isinstance(by, str) else list(by)
    segments = {}
    for key, part in rows.groupby(columns, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        label = "/".join(str(k.item() if isinstance(k, np.generic) else k) for k in key)
        segments[label] = one(part)
    values = np.array([v["coverage"] for v in segments.values()])
    out.update(by=columns, segments=segments, min=float(values.min()),
               share_below=float(np.mean(values < floor)),
               share_in_target=float(np.mean((values >= target[0]) & (values <= target[1]))),
               met=bool(np.all((values >= target[0]) & (values <= target[1]))))
    return out


# -- sealing the test: what the choice was, fixed before a test row is predicted -----------------
def _plain(value: Any) -> Any:
    """A JSON-safe, address-free rendering of a model's parameters (for the choice's hash)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, np.ndarray):
        return {"array": list(value.shape), "sha256": hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()}
    if isinstance(value, pd.DataFrame | pd.Series):
        return {"frame": list(value.shape)}
    return model_spec(value)


def model_spec(model: Any) -> dict[str, Any]:
    """A model's class and parameters: `spec()` where it has one, an estimator's `get_params()`,
    else its public attributes (fitted state, ending in `_`, is left out)."""
    if callable(getattr(model, "spec", None)):
        params = model.spec()
    elif callable(getattr(model, "get_params", None)):
        params = model.get_params(deep=False)
    else:
        params = {k: v for k, v in vars(model).items() if not k.startswith("_") and not k.endswith("_")} \
            if hasattr(model, "__dict__") else {}
    return {"class": f"{type(model).__module__}.{type(model).__qualname__}", "params": _plain(params)}


def freeze(choice: Choice, models: Sequence[Any], selections: Sequence["EffectSelection"] = ()) -> dict[str, Any]:
    """The sealed record: the sha256 of the choice, every model's parameters and the effects selected,
    taken before the first test row is predicted. Retraining with the same seed gives the same hash."""
    record = {"choice": choice.as_json(), "models": [{"name": m.name, **model_spec(m)} for m in models],
              "effects": {s.family: s.kept for s in selections}}
    blob = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str).encode()
    return {"choice_sha256": hashlib.sha256(blob).hexdigest(),
            "hashed": "the choice (rule, margin, validation scores, chosen), every candidate's and baseline's "
                      "parameters and the effects kept, before any test fold was predicted",
            "order": ["validation folds backtested", "choice made and frozen", "test folds backtested once"]}


# -- seeds -------------------------------------------------------------------------------------
def reseeded(model: Any, seed: int) -> Any | None:
    """A copy of `model` with another random seed, or None for a deterministic model. Models say how
    with `seeded(seed)`; estimators with a `random_state` parameter are reseeded through it."""
    if callable(getattr(model, "seeded", None)):
        return model.seeded(seed)
    inner = getattr(model, "estimator", None)
    if inner is not None and "random_state" in getattr(inner, "get_params", lambda: {})():
        copy_ = fresh(model)
        copy_.estimator.set_params(random_state=seed)
        return copy_
    wrapped = getattr(model, "model", None)
    if wrapped is not None and not isinstance(wrapped, str):
        inner_copy = reseeded(wrapped, seed)
        if inner_copy is not None:
            copy_ = fresh(model)
            copy_.model = inner_copy
            return copy_
    return None


# -- effects: features and adjustments kept only with validation support -------------------------
@dataclass
class EffectSelection:
    """Backward elimination on validation folds: an effect stays only while taking it out makes the
    validation metric worse by more than `tolerance` (relative). The test folds are not used."""

    family: str
    effects: list[str]                  # the effects offered
    kept: list[str]
    build: Callable[[Sequence[str]], Any] = field(repr=False)
    metric: str = ""
    lower_is_better: bool = True
    tolerance: float = 0.0
    steps: list[dict[str, Any]] = field(default_factory=list)     # each round's validation scores
    validation: dict[str, dict[str, float]] = field(default_factory=dict)   # effect -> with/without/contribution

    def model(self) -> Any:
        return self.build(tuple(self.kept))

    def variants(self) -> dict[str, Any]:
        """For the test report: each kept effect taken out, each dropped effect put back."""
        out = {}
        for e in self.effects:
            with_e = [x for x in self.effects if x in self.kept or x == e]
            without = [x for x in self.kept if x != e]
            out[e] = (self.build(tuple(with_e)) if e not in self.kept else self.model(),
                      self.build(tuple(without)) if e in self.kept else self.model())
        return out


def _variant_name(family: str, effects: Sequence[str]) -> str:
    return f"{family}[{'+'.join(effects) or 'none'}]"


def select_effects(family: str, build: Callable[[Sequence[str]], Any], effects: Sequence[str], frame: pd.DataFrame,
                   plan: Any, *, metrics: dict[str, Callable], metric: str, target: str = "y",
                   keys: Sequence[str] = (), carry: Sequence[str] = (), weights: str | None = None,
                   lower_is_better: bool = True, tolerance: float = 0.01, quiet: bool = True) -> EffectSelection:
    """Which of `effects` a model family keeps, decided on the plan's validation folds only.

    `build(effects)` returns a model using exactly those effects (any name). Each round backtests the
    current set and every leave-one-out set; the effect whose removal helps most (or hurts least) is
    dropped if taking it out does not worsen the validation metric by more than `tolerance`; stops when
    every remaining effect earns its place. The default `tolerance` (1% of the metric) is what a pure
    noise column earned by chance on the kernel's tests; less is not support. The result records each effect's validation contribution
    (relative change of the metric when it is taken out of the final set: > 0 means it helps)."""
    sign = 1.0 if lower_is_better else -1.0
    cache: dict[tuple[str, ...], float] = {}

    def validation_score(chosen: Sequence[str]) -> float:
        key = tuple(chosen)
        if key not in cache:
            model = build(key)
            model.name = _variant_name(family, key)
            table = backtest([model], frame, plan, target=target, keys=keys,
                             carry=[c for c in dict.fromkeys([*carry, *([weights] if weights else [])]) if c not in keys],
                             quiet=True, roles=(VALIDATION,))
            cache[key] = score(table, {metric: metrics[metric]}, by=("model",), weights=weights)[model.name][metric]
        return cache[key]

    current = list(effects)
    steps_: list[dict[str, Any]] = []
    while current:
        base = validation_score(current)
        without = {e: validation_score([x for x in current if x != e]) for e in current}
        # contribution of e: how much worse the metric gets without it (relative; > 0 helps)
        contribution = {e: sign * (without[e] - base) / abs(base) if base else 0.0 for e in current}
        weakest = min(current, key=lambda e: (contribution[e], current.index(e)))
        steps_.append({"effects": list(current), "score": base, "without": without, "contribution": contribution,
                       "dropped": weakest if contribution[weakest] <= tolerance else None})
        if contribution[weakest] > tolerance:
            break
        current.remove(weakest)
        if not quiet:
            print(f"{family}: dropped {weakest} (validation {metric} without it {without[weakest]:.6g} vs "
                  f"{base:.6g})", file=sys.stderr)
    final = validation_score(current)
    validation = {}
    for e in effects:
        if e in current:
            out_score = validation_score([x for x in current if x != e])
            validation[e] = {"kept": True, "with": final, "without": out_score,
                             "contribution": sign * (out_score - final) / abs(final) if final else 0.0}
        else:
            in_score = validation_score([x for x in effects if x in current or x == e])
            validation[e] = {"kept": False, "with": in_score, "without": final,
                             "contribution": sign * (final - in_score) / abs(in_score) if in_score else 0.0}
    return EffectSelection(family=family, effects=list(effects), kept=current, build=build, metric=metric,
                           lower_is_better=lower_is_better, tolerance=tolerance, steps=steps_, validation=validation)


def unsupported_effects(metrics: dict[str, Any]) -> list[str]:
    """Effects a manifest says are used although their validation contribution does not exceed the
    selection's tolerance (the tests of every service with effects call this on its trained manifest)."""
    bad = []
    for family, table in (metrics.get("ablation") or {}).items():
        for effect, row in table.items():
            if row.get("kept") and not row.get("validation_contribution", 0) > row.get("tolerance", 0.0):
                bad.append(f"{family}:{effect}")
    return bad


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
    sealed: dict[str, Any] = field(default_factory=dict)
    ablation: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    seeds: dict[str, Any] | None = None
    variants: pd.DataFrame | None = None      # the ablation variants' test rows (reported, never chosen)
    interval: Callable[[str], dict[str, Any] | None] | None = field(default=None, repr=False)

    def restate(self, note: str) -> dict[str, Any]:
        """The headline summary again with a service's own note: the same baseline and ratio interval."""
        return summarize(self.test, self.choice, note, interval=self.interval)

    def rows(self, role: str, model: str | None = None) -> pd.DataFrame:
        """The table's rows of one role, of the chosen model unless another is named."""
        t = self.table
        return t[(t["role"] == role) & (t["model"] == (model or self.choice.chosen))]

    def metrics(self, **extra: Any) -> dict[str, Any]:
        """The manifest's `metrics`: plan, validation scores, choice, the seal, test table with every
        baseline, ablation, seeds, summary."""
        folds = self.plan["folds"]
        test_folds = [f for f in folds if f["role"] == TEST]
        holdout = {"plan": self.plan["kind"], "validation_folds": len(folds) - len(test_folds),
                   "test_folds": len(test_folds), "test_rows": sum(f["predict"]["rows"] for f in test_folds)}
        if "first" in test_folds[0]["predict"]:
            holdout.update(test_first=test_folds[0]["predict"]["first"], test_last=test_folds[-1]["predict"]["last"])
        out = {"holdout": holdout, "split_plan": self.plan, "validation": self.validation,
               "choice": self.choice.as_json(), "sealed": self.sealed, "test": self.test}
        if self.by_horizon:
            out["test_by_horizon"] = self.by_horizon
        if self.ablation:
            out["ablation"] = self.ablation
        if self.seeds:
            out["seeds"] = self.seeds
        out.update(extra)
        out["summary"] = self.summary
        return out


def run(frame: pd.DataFrame, plan: Any, *, candidates: Sequence[Any], baselines: Sequence[Any],
        metrics: dict[str, Callable], metric: str, target: str = "y", keys: Sequence[str] = (),
        carry: Sequence[str] = (), weights: str | None = None, level: float | None = None,
        lower_is_better: bool = True, margin: float = 0.0, serve_baseline: bool = True, note: str = "",
        by_horizon: bool = True, quiet: bool = True, label: str = "backtest", block: str = "fold",
        selections: Sequence[EffectSelection] = (), seeds: Sequence[int] = ()) -> Outcome:
    """The training flow: backtest every candidate and baseline on the validation folds, choose, freeze
    the choice, then backtest the test folds once and report; refit the chosen model on all rows.

    `block`: the table column whose values are resampled whole for the headline ratio's interval (an
    origin, a match day, a regime). `selections`: effect selections made beforehand on validation
    (`select_effects`); their variants are scored on test for the ablation table, after the seal.
    `seeds`: the chosen model refitted with each seed on the test folds (>= 5), for the spread.
    `by_horizon`: also the test metric per horizon (when horizons exceed 1)."""
    models = [*candidates, *baselines]
    names = _check_names(models)
    carry = [c for c in dict.fromkeys([*carry, *([weights] if weights else []),
                                       *([block] if block not in TABLE_COLUMNS else [])]) if c not in keys]
    common = dict(target=target, keys=keys, carry=carry, level=level, quiet=quiet)
    validation_table = backtest(models, frame, plan, label=f"{label} (validation)", roles=(VALIDATION,), **common)
    choice = choose(validation_table, metrics, metric=metric, candidates=[m.name for m in candidates],
                    baselines=[m.name for m in baselines], lower_is_better=lower_is_better, margin=margin,
                    serve_baseline=serve_baseline, weights=weights)
    sealed = freeze(choice, models, selections)
    if not quiet:
        print(f"{label}: choice frozen ({choice.chosen}, sha256 {sealed['choice_sha256'][:12]}); "
              "scoring the test folds once", file=sys.stderr)

    # -- sealed from here on: the test folds are predicted once, nothing below changes the choice --
    test_table = backtest(models, frame, plan, label=f"{label} (test)", roles=(TEST,), **common)
    table = pd.concat([validation_table, test_table], ignore_index=True)
    validation = score(validation_table, metrics, by=("model",), weights=weights, models=names)
    test = score(test_table, metrics, by=("model",), weights=weights, models=names)
    sealed["test_scored"] = 1
    per_horizon = None
    if by_horizon and (test_table["horizon"] > 1).any():
        nested = score(test_table, {metric: metrics[metric]}, by=("model", "horizon"), weights=weights)
        per_horizon = {m: {f"h{h}": v[metric] for h, v in nested[m].items()} for m in names}

    ablation, variant_tables = {}, []
    for selection in selections:
        rows = {}
        for effect, (with_e, without) in selection.variants().items():
            with_e.name, without.name = f"{selection.family}[+{effect}]", f"{selection.family}[-{effect}]"
            t = backtest([with_e, without], frame, plan, label=f"{label} (ablation {effect})", roles=(TEST,),
                         **common)
            variant_tables.append(t)
            s = score(t, {metric: metrics[metric]}, by=("model",), weights=weights)
            w, wo = s[with_e.name][metric], s[without.name][metric]
            sign = 1.0 if lower_is_better else -1.0
            v = selection.validation[effect]
            rows[effect] = {"kept": v["kept"], "validation_contribution": v["contribution"],
                            "tolerance": selection.tolerance,
                            "test_contribution": sign * (wo - w) / abs(w) if w else 0.0,
                            "validation_with": v["with"], "validation_without": v["without"],
                            "test_with": w, "test_without": wo}
        ablation[selection.family] = rows

    def interval(baseline: str) -> dict[str, Any] | None:
        if metrics[metric] not in ROW_LOSSES:
            return None
        try:
            return ratio_interval(table, choice.chosen, baseline, metric=metrics[metric], block=block,
                                  weights=weights)
        except ValueError as exc:       # a perfect baseline (loss 0), or a single block, has no interval
            log.warning("no ratio interval against %s: %s", baseline, exc)
            return None

    spread = None
    chosen_template = next(m for m in models if m.name == choice.chosen)
    if seeds:
        reseeds = {s: reseeded(chosen_template, s) for s in seeds}
        if all(m is not None for m in reseeds.values()):
            values = {}
            for s, m in reseeds.items():
                m.name = choice.chosen
                t = backtest([m], frame, plan, label=f"{label} (seed {s})", roles=(TEST,), **common)
                values[s] = score(t, {metric: metrics[metric]}, by=("model",), weights=weights)[choice.chosen][metric]
            spread = {"model": choice.chosen, "metric": metric, "test": ev.seed_spread(values)}
        else:
            spread = {"model": choice.chosen, "metric": metric, "deterministic": True}

    model = fresh(chosen_template).fit(frame)
    summary = summarize(test, choice, note, interval=interval)
    if spread and "test" in spread:
        base = test[summary["baseline"]][metric]
        spread["ratio_to_baseline"] = ev.seed_spread({s: v / base for s, v in zip(spread["test"]["seeds"],
                                                                                  spread["test"]["values"])})
    return Outcome(table=table, plan=plan.describe(frame), validation=validation, test=test, choice=choice,
                   model=model, summary=summary, by_horizon=per_horizon, sealed=sealed, ablation=ablation,
                   seeds=spread, variants=pd.concat(variant_tables, ignore_index=True) if variant_tables else None,
                   interval=interval)
