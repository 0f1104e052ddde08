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


def _decimals(*values: float) -> list[str]:
    """Ratios printed with as few decimals (3 or more) as keep different values apart, and apart from
    1 (a ratio of 1.0003 is a loss, not "1.000")."""
    for d in range(3, 8):
        texts = [f"{v:.{d}f}" for v in (*values, 1.0)]
        if len(set(texts)) == len(set((*values, 1.0))):
            return texts[:-1]
    return texts[:-1]


def _pair(a: float, b: float) -> str:
    """"a vs b" with enough digits that two different scores never print alike."""
    if a != b and _number(a) == _number(b):
        return f"{precise(a, near=b, digits=4)} vs {precise(b, near=a, digits=4)}"
    return f"{_number(a)} vs {_number(b)}"


def summary(*, model: str, baseline: str, metric: str, model_score: float, baseline_score: float,
            lower_is_better: bool = True, note: str = "", evidence: str = "held-out data",
            interval: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one-line verdict the API and the UI show: does the model beat its naive baseline? `evidence`
    names the rows (held-out data in training; the live actuals in monitoring). `interval`: the
    ratio's block-bootstrap interval (`bootstrap_ratio`), printed beside it; a ratio whose interval
    reaches past 1 is said to be no clear win."""
    beats = model_score < baseline_score if lower_is_better else model_score > baseline_score
    ratio = model_score / baseline_score if baseline_score else float("nan")
    verdict = "beats" if beats else "does NOT beat"
    statement = (f"{model} {verdict} the {baseline} baseline on {evidence}: "
                 f"{metric} {_pair(model_score, baseline_score)}")
    if interval is not None:
        clear = interval["high"] < 1 if lower_is_better else interval["low"] > 1
        r, lo, hi = _decimals(ratio, interval["low"], interval["high"])
        statement += (f", ratio {r} [{interval['level']:.0%} interval {lo}-{hi} over {interval['blocks']} "
                      f"{interval.get('block', 'block')}s"
                      f"{'' if clear or not beats else '; not a clear win'}]")
    if note:
        statement += f" ({note})"
    out = {"model": model, "baseline": baseline, "metric": metric, "model_score": model_score,
           "baseline_score": baseline_score, "ratio_to_baseline": ratio, "beats_baseline": bool(beats),
           "statement": statement}
    if interval is not None:
        out["ratio_interval"] = interval
    return out


# -- uncertainty of a headline -----------------------------------------------------------------
def bootstrap_ratio(model_loss, baseline_loss, blocks, *, weights=None, replicates: int = 2000, seed: int = 0,
                    level: float = 0.95) -> dict[str, Any]:
    """The ratio sum(w * model_loss) / sum(w * baseline_loss) with a block-bootstrap interval.

    Rows of one block (an origin, a match day, a regime) share their errors, so resampling rows would
    pretend to know more than the data says; whole blocks are resampled with replacement instead
    (percentile interval). The ratio of MAE, WMAE or mean log loss over the same rows is this ratio."""
    m = np.asarray(model_loss, dtype=float)
    b = np.asarray(baseline_loss, dtype=float)
    w = np.ones_like(m) if weights is None else np.asarray(weights, dtype=float)
    labels = np.asarray(blocks)
    if not (m.shape == b.shape == w.shape == labels.shape) or m.size == 0:
        raise ValueError("losses, weights and blocks must be equal, non-empty shapes")
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")
    _, block = np.unique(labels, return_inverse=True)
    n_blocks = int(block.max()) + 1
    if n_blocks < 2:
        raise ValueError("one block gives no interval; resample a finer block (origin, match day, regime)")
    sums_m = np.bincount(block, weights=w * m, minlength=n_blocks)
    sums_b = np.bincount(block, weights=w * b, minlength=n_blocks)
    if not sums_b.sum() > 0:
        raise ValueError("the baseline's loss is 0 on these rows: no ratio to it")
    ratio = float(sums_m.sum() / sums_b.sum())
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_blocks, size=(replicates, n_blocks))
    with np.errstate(divide="ignore", invalid="ignore"):
        samples = sums_m[draws].sum(axis=1) / sums_b[draws].sum(axis=1)
    samples = samples[np.isfinite(samples)]
    tail = (1 - level) / 2
    low, high = (float(q) for q in np.quantile(samples, [tail, 1 - tail]))
    return {"ratio": ratio, "low": low, "high": high, "level": level, "blocks": n_blocks, "replicates": replicates,
            "seed": seed}


def seed_spread(values: dict[int, float]) -> dict[str, Any]:
    """A number measured once per random seed: the mean is the figure, the spread says how much of
    it is luck. At least 5 seeds: fewer give no useful spread."""
    if len(values) < 5:
        raise ValueError(f"a seed spread needs at least 5 seeds, got {len(values)}")
    seeds = sorted(values)
    v = np.array([values[s] for s in seeds], dtype=float)
    return {"seeds": seeds, "values": [float(x) for x in v], "mean": float(v.mean()), "std": float(v.std(ddof=1)),
            "min": float(v.min()), "max": float(v.max())}


def precise(value: float, *, near: float | None = None, digits: int = 3) -> str:
    """`value` with enough significant digits that it never prints as `near` unless it equals it:
    0.895 against a 0.9 target is "0.895", never "0.90"."""
    for d in range(digits, 10):
        text = f"{value:.{d}g}"
        if near is None or value == near or text != f"{near:.{d}g}":
            return text
    return repr(value)


def check_target(name: str, value: float, *, at_most: float | None = None, at_least: float | None = None,
           within: tuple[float, float] | None = None, interval: dict[str, Any] | None = None,
           spread: dict[str, Any] | None = None, note: str = "") -> dict[str, Any]:
    """A target check whose statement cannot round a miss into a pass. `value` is the mean over seeds
    when there is a spread; "met" compares that value, unrounded, with the target."""
    if sum(x is not None for x in (at_most, at_least, within)) != 1:
        raise ValueError("give exactly one of at_most, at_least, within")
    if at_most is not None:
        met, bound, text = value <= at_most, at_most, f"<= {at_most:g}"
    elif at_least is not None:
        met, bound, text = value >= at_least, at_least, f">= {at_least:g}"
    else:
        lo, hi = within
        met, bound, text = lo <= value <= hi, (lo if value < lo else hi), f"in [{lo:g}, {hi:g}]"
    parts = [f"{name} {precise(value, near=bound)}"]
    if spread is not None:
        parts.append(f"(mean of {len(spread['seeds'])} seeds, range {precise(spread['min'])}-{precise(spread['max'])})")
    if interval is not None:
        parts.append(f"[{interval['level']:.0%} interval {precise(interval['low'])}-{precise(interval['high'])}]")
    parts.append(f"target {text}: {'met' if met else 'NOT met'}")
    statement = " ".join(parts) + (f" ({note})" if note else "")
    out: dict[str, Any] = {"value": float(value), "target": text, "met": bool(met), "statement": statement}
    if interval is not None:
        out["interval"] = interval
    if spread is not None:
        out["seeds"] = spread
    return out
