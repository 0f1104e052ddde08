"""Training profiles of served input features, the one bucketing function, and PSI.

Training calls `profile(frame, features)` on the fitting frame and the manifest keeps the result;
serving turns each feature's profile into `Buckets` and counts every requested value into the same
buckets the profile was measured with (one function, so no train/serve skew). Numbers get quantile
bins between the training minimum and maximum plus `below` / `above` (out of range) and `missing`;
ids and categories get one bucket per training category plus `unknown` and `missing`.

Drift is the population stability index of the live bucket shares against the training shares:
PSI = sum (live - train) x ln(live / train), each share floored at SHARE_FLOOR so a bucket that
training never filled (out of range, unknown) still counts, and counts heavily. Thresholds, the
usual ones: PSI < 0.1 stable, 0.1 .. 0.25 watch, > 0.25 drift; with fewer than MIN_OBSERVATIONS
values the PSI of a feature is sampling noise (about (buckets - 1) / n for identical
distributions), so its status is "not enough requests yet". Numpy and the standard library only.
"""
from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

NUMBER, CATEGORY = "number", "category"
BINS = 10
SHARE_FLOOR = 1e-4
STABLE_BELOW, DRIFT_ABOVE = 0.1, 0.25
MIN_OBSERVATIONS = 200
MISSING, BELOW, ABOVE, UNKNOWN = "missing", "below", "above", "unknown"
METHOD = (f"PSI of live bucket shares against the training profile (shares floored at {SHARE_FLOOR:g}); "
          f"< {STABLE_BELOW} stable, {STABLE_BELOW}..{DRIFT_ABOVE} watch, > {DRIFT_ABOVE} drift; "
          f"at least {MIN_OBSERVATIONS} values per feature before a status is given")


@dataclass(frozen=True)
class Feature:
    """A served input feature: its name in requests, numeric or categorical, and the fitting frame's
    columns that hold its training values (default: the column of the same name; several columns,
    e.g. home and away team, are pooled into one feature)."""

    name: str
    kind: str
    columns: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in (NUMBER, CATEGORY):
            raise ValueError(f"{self.name}: kind must be {NUMBER!r} or {CATEGORY!r}, not {self.kind!r}")

    @property
    def source(self) -> tuple[str, ...]:
        return self.columns or (self.name,)


def label(value: Any) -> str | None:
    """A category as text: 25027, 25027.0 and "25027" are one id; None, NaN and "" are missing."""
    if value is None:
        return None
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return None
        if float(value).is_integer():
            return str(int(value))
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    text = str(value).strip()
    return text or None


class Buckets:
    """The buckets of one feature, from its profile entry: `key(value)` names the bucket of a value."""

    def __init__(self, name: str, entry: dict[str, Any]):
        self.name = name
        self.kind = entry["kind"]
        self.shares: dict[str, float] = dict(entry["shares"])
        if self.kind == NUMBER:
            self.edges = [float(e) for e in entry["edges"]]
            self.low, self.high = float(entry["min"]), float(entry["max"])
            inner = [f"b{i}" for i in range(len(self.edges) + 1)]
            self.keys = [*inner, BELOW, ABOVE, MISSING]
        elif self.kind == CATEGORY:
            self.index = {c: i for i, c in enumerate(entry["categories"])}
            self.categories = list(entry["categories"])
            self.keys = [*(f"c{i}" for i in range(len(self.categories))), UNKNOWN, MISSING]
        else:
            raise ValueError(f"{name}: unknown feature kind {self.kind!r}")

    def key(self, value: Any) -> str:
        if self.kind == CATEGORY:
            text = label(value)
            if text is None:
                return MISSING
            i = self.index.get(text)
            return UNKNOWN if i is None else f"c{i}"
        try:
            x = float(value)
        except (TypeError, ValueError):
            return MISSING
        if math.isnan(x):
            return MISSING
        if x < self.low:
            return BELOW
        if x > self.high:
            return ABOVE
        return f"b{bisect_left(self.edges, x)}"

    def describe(self, key: str) -> str:
        """A bucket in words, for people: '(12.5, 17.25]', 'above 99.1 (training max)', a category name."""
        if key in (MISSING, UNKNOWN):
            return {"missing": "missing", "unknown": "unknown (not in training)"}[key]
        if self.kind == CATEGORY:
            return self.categories[int(key[1:])]
        if key == BELOW:
            return f"below {_num(self.low)} (training min)"
        if key == ABOVE:
            return f"above {_num(self.high)} (training max)"
        i = int(key[1:])
        lo = self.low if i == 0 else self.edges[i - 1]
        hi = self.high if i == len(self.edges) else self.edges[i]
        return f"{'[' if i == 0 else '('}{_num(lo)}, {_num(hi)}]"


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


# -- training ----------------------------------------------------------------------------------
def _column_values(frame: Any, feature: Feature) -> list[np.ndarray]:
    missing = [c for c in feature.source if c not in frame]
    if missing:
        raise ValueError(f"feature {feature.name}: the fitting frame has no column {missing[0]!r}")
    return [np.asarray(frame[c].to_numpy() if hasattr(frame[c], "to_numpy") else frame[c]) for c in feature.source]


def _shares(buckets: Buckets, keys: Iterable[str]) -> dict[str, float]:
    counts = dict.fromkeys(buckets.keys, 0)
    total = 0
    for k in keys:
        counts[k] += 1
        total += 1
    return {k: (n / total if total else 0.0) for k, n in counts.items()}


def _as_float(values: np.ndarray) -> np.ndarray:
    """Numbers as requests carry them: a float32 column (a feature matrix) back to its shortest decimal,
    so 4.99 in training and 4.99 in a request fall in the same bucket."""
    values = np.asarray(values)
    if values.dtype == np.float32:
        return values.astype(str).astype(float)
    return values.astype(float)


def _number_entry(values: np.ndarray, bins: int) -> dict[str, Any]:
    x = _as_float(values)
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        raise ValueError("no finite values to profile")
    qs = np.quantile(finite, [i / bins for i in range(1, bins)])
    low, high = float(finite.min()), float(finite.max())
    edges = sorted({float(q) for q in qs if low <= q < high})
    return {"kind": NUMBER, "edges": edges, "min": low, "max": high}


def _category_entry(values: np.ndarray) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for v in values:
        text = label(v)
        if text is not None:
            counts[text] = counts.get(text, 0) + 1
    if not counts:
        raise ValueError("no categories to profile")
    return {"kind": CATEGORY, "categories": sorted(counts, key=lambda c: (-counts[c], c))}


def profile(frame: Any, features: Sequence[Feature], *, bins: int = BINS) -> dict[str, Any]:
    """The manifest's `profile`: per served feature, its buckets and the share of training values in each
    (quantile bins, or categories; plus missing and out-of-range / unknown, 0 by construction on the
    data the buckets come from). `frame` is the fitting frame (pandas or a dict of arrays)."""
    out: dict[str, Any] = {"method": METHOD, "bins": bins, "features": {}}
    rows = None
    for feature in features:
        columns = _column_values(frame, feature)
        values = np.concatenate(columns) if len(columns) > 1 else columns[0]
        rows = len(columns[0]) if rows is None else rows
        try:
            entry = _number_entry(values, bins) if feature.kind == NUMBER else _category_entry(values)
        except ValueError as exc:
            raise ValueError(f"feature {feature.name}: {exc}") from None
        entry["shares"] = {}
        buckets = Buckets(feature.name, entry)
        if feature.kind == NUMBER:
            keys = [buckets.key(v) for v in _as_float(values).tolist()]
        else:
            keys = [buckets.key(v) for v in values.tolist()]
        entry["shares"] = _shares(buckets, keys)
        entry["n"] = int(len(keys))
        if feature.description:
            entry["description"] = feature.description
        out["features"][feature.name] = entry
    out["rows"] = int(rows or 0)
    return out


# -- serving -----------------------------------------------------------------------------------
def psi(expected: dict[str, float], observed: dict[str, int]) -> float:
    """Population stability index of observed counts against expected shares (same bucket keys)."""
    total = sum(observed.values())
    if total <= 0:
        return float("nan")
    value = 0.0
    for key in set(expected) | set(observed):
        e = max(float(expected.get(key, 0.0)), SHARE_FLOOR)
        o = max(observed.get(key, 0) / total, SHARE_FLOOR)
        value += (o - e) * math.log(o / e)
    return value


def status(value: float, n: int) -> str:
    if n < MIN_OBSERVATIONS or not math.isfinite(value):
        return "not enough requests yet"
    if value < STABLE_BELOW:
        return "stable"
    return "watch" if value <= DRIFT_ABOVE else "drift"


def feature_drift(buckets: Buckets, counts: dict[str, int]) -> dict[str, Any]:
    """One feature's drift report: PSI and status, live vs training shares of every bucket, and the
    out-of-range / unknown / missing shares called out."""
    n = int(sum(counts.values()))
    value = psi(buckets.shares, counts)
    live = {k: (counts.get(k, 0) / n if n else 0.0) for k in buckets.keys}
    report: dict[str, Any] = {
        "kind": buckets.kind, "observations": n, "psi": None if math.isnan(value) else round(value, 6),
        "status": status(value, n), "missing_share": live[MISSING],
        "training_missing_share": buckets.shares.get(MISSING, 0.0),
    }
    if buckets.kind == NUMBER:
        report.update(out_of_range_share=live[BELOW] + live[ABOVE], below_share=live[BELOW],
                      above_share=live[ABOVE], training_range=[buckets.low, buckets.high])
    else:
        report.update(unknown_share=live[UNKNOWN], training_categories=len(buckets.categories))
    report["buckets"] = [{"bucket": buckets.describe(k), "training": round(buckets.shares.get(k, 0.0), 6),
                          "live": round(live[k], 6)} for k in buckets.keys
                         if buckets.shares.get(k, 0.0) > 0 or counts.get(k, 0) > 0]
    return report
