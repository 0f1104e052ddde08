"""Metrics as plain functions over arrays, and the summary every manifest carries.

Evaluation lives apart from models: training code calls these on held-out data only.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def _arrays(actual, predicted) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(actual, dtype=float)
    p = np.asarray(predicted, dtype=float)
    if a.shape != p.shape or a.size == 0:
        raise ValueError(f"actual {a.shape} and predicted {p.shape} must be equal, non-empty shapes")
    return a, p


def mae(actual, predicted) -> float:
    a, p = _arrays(actual, predicted)
    return float(np.mean(np.abs(a - p)))


def rmse(actual, predicted) -> float:
    a, p = _arrays(actual, predicted)
    return float(np.sqrt(np.mean((a - p) ** 2)))


def wmae(actual, predicted, weights) -> float:
    a, p = _arrays(actual, predicted)
    w = np.asarray(weights, dtype=float)
    return float(np.sum(w * np.abs(a - p)) / np.sum(w))


def mape(actual, predicted) -> float:
    """Mean absolute percentage error in percent; undefined where actual is 0, so those rows are refused."""
    a, p = _arrays(actual, predicted)
    if np.any(a == 0):
        raise ValueError("MAPE is undefined when an actual value is 0; use WAPE")
    return float(np.mean(np.abs((a - p) / a)) * 100)


def wape(actual, predicted) -> float:
    """Weighted absolute percentage error in percent: sum|e| / sum|actual|."""
    a, p = _arrays(actual, predicted)
    return float(np.sum(np.abs(a - p)) / np.sum(np.abs(a)) * 100)


def coverage(actual, lower, upper) -> float:
    """Share of actual values inside [lower, upper]."""
    a, lo = _arrays(actual, lower)
    _, hi = _arrays(actual, upper)
    return float(np.mean((a >= lo) & (a <= hi)))


def log_loss(actual, predicted) -> float:
    """Mean -ln p per observed outcome: `actual` counts how often each row's outcome occurred (0, 1, ...),
    `predicted` is the probability the model gave it. Refuses a zero probability for an outcome that occurred."""
    a, p = _arrays(actual, predicted)
    if np.any(a < 0) or a.sum() <= 0:
        raise ValueError("log loss needs non-negative outcome counts, at least one outcome")
    if np.any((a > 0) & (p <= 0)):
        raise ValueError("log loss is infinite: an outcome that occurred had probability 0")
    hit = a > 0
    return float(np.sum(a[hit] * -np.log(p[hit])) / np.sum(a))


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def summary(*, model: str, baseline: str, metric: str, model_score: float, baseline_score: float,
            lower_is_better: bool = True, note: str = "", evidence: str = "held-out data") -> dict[str, Any]:
    """The one-line verdict the API and the UI show: does the model beat its naive baseline? `evidence`
    names the rows (held-out data in training; the live actuals in monitoring)."""
    beats = model_score < baseline_score if lower_is_better else model_score > baseline_score
    ratio = model_score / baseline_score if baseline_score else float("nan")
    verdict = "beats" if beats else "does NOT beat"
    statement = (f"{model} {verdict} the {baseline} baseline on {evidence}: "
                 f"{metric} {_number(model_score)} vs {_number(baseline_score)}")
    if note:
        statement += f" ({note})"
    return {"model": model, "baseline": baseline, "metric": metric, "model_score": model_score,
            "baseline_score": baseline_score, "ratio_to_baseline": ratio, "beats_baseline": bool(beats),
            "statement": statement}
