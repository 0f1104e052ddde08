"""Baselines as first-class models: the same `fit(frame)` / `predict(frame)` as every candidate.

Frames follow statsforecast's long layout: one row per observation, a key (one column, several,
or none for a single series), a time column and a target column; the column names are
constructor arguments (defaults `unique_id`, `ds`, `y`). A baseline fitted on a frame predicts
any rows of the same keys; it refuses, when fitted, a key with less history than it needs, and
refuses, when predicting, a key it never saw (a baseline must not invent a number).

Seasonal baselines count time in steps: integer times are steps already; datetimes need
`freq` (e.g. "7D" for weekly data). Stacked frames (one row per origin x horizon) hold each
target several times; the baselines keep one value per key and time, so they fit those too.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd


def _key_columns(key: str | Sequence[str] | None) -> list[str]:
    if key is None:
        return []
    return [key] if isinstance(key, str) else list(key)


def _keys(frame: pd.DataFrame, columns: list[str]) -> list:
    if not columns:
        return [0] * len(frame)         # one series: every row has the same key
    if len(columns) == 1:
        return frame[columns[0]].tolist()
    return list(zip(*(frame[c].tolist() for c in columns)))


def steps(values: pd.Series, freq: str | None) -> np.ndarray:
    """Time values as integer steps: integers as they are, datetimes in units of `freq`."""
    if freq is None:
        if not pd.api.types.is_integer_dtype(values):
            raise ValueError(f"time column {values.name!r} is not integer; give freq= (e.g. '7D') for datetimes")
        return values.to_numpy(np.int64)
    delta = ((pd.to_datetime(values) - pd.Timestamp("1970-01-01")) / pd.Timedelta(freq)).to_numpy(float)
    out = np.floor(delta + 1e-9).astype(np.int64)
    phase = delta - out                       # weekly data on Fridays: every row has the same phase
    if phase.size and not np.allclose(phase, phase[0], atol=1e-6):
        raise ValueError(f"time column {values.name!r} is not on a {freq} grid")
    return out


class _ByKey:
    """Shared plumbing: per-key histories (step -> value), the minimum-history check, lookups."""

    name = "baseline"
    min_history = 1

    def __init__(self, *, key: str | Sequence[str] | None = "unique_id", time: str = "ds", target: str = "y",
                 freq: str | None = None, name: str | None = None):
        self.key, self.time, self.target, self.freq = key, time, target, freq
        if name is not None:
            self.name = name

    def _histories(self, frame: pd.DataFrame) -> dict[Any, tuple[np.ndarray, np.ndarray]]:
        columns = _key_columns(self.key)
        data = pd.DataFrame({"k": _keys(frame, columns), "t": steps(frame[self.time], self.freq),
                             "y": frame[self.target].to_numpy(float)})
        data = data.drop_duplicates(["k", "t"], keep="last").sort_values(["t"], kind="stable")
        out = {}
        for k, part in data.groupby("k", sort=False):
            t, y = part["t"].to_numpy(), part["y"].to_numpy()
            if len(t) < self.min_history:
                raise ValueError(f"{self.name}: key {k!r} has {len(t)} observations; needs at least {self.min_history}")
            out[k] = (t, y)
        if not out:
            raise ValueError(f"{self.name}: nothing to fit on")
        return out

    def _history(self, k: Any) -> tuple[np.ndarray, np.ndarray]:
        try:
            return self.history_[k]
        except KeyError:
            raise ValueError(f"{self.name}: key {k!r} was not in the fitting frame") from None

    def fit(self, frame: pd.DataFrame) -> "_ByKey":
        self.history_ = self._histories(frame)
        return self

    def _predict_one(self, k: Any, t: int) -> float:
        raise NotImplementedError

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        keys = _keys(frame, _key_columns(self.key))
        times = steps(frame[self.time], self.freq)
        return np.array([self._predict_one(k, int(t)) for k, t in zip(keys, times)], dtype=float)


class LastValue(_ByKey):
    """Tomorrow looks like today: each key's last observed value."""

    name = "last_value"

    def _predict_one(self, k, t):
        return float(self._history(k)[1][-1])


class SeasonalNaive(_ByKey):
    """The value one season earlier (or whole seasons earlier, past the end of the history)."""

    name = "seasonal_naive"

    def __init__(self, season: int, **kwargs):
        super().__init__(**kwargs)
        if season < 1:
            raise ValueError("season must be >= 1")
        self.season = season
        self.min_history = season

    def _lookup(self, k, step: int) -> float:
        t, y = self._history(k)
        at = np.searchsorted(t, step)
        if at >= len(t) or t[at] != step:
            raise ValueError(f"{self.name}: key {k!r} has no value at step {step} (a gap in its history)")
        return float(y[at])

    def _season_back(self, k, t: int) -> int:
        last = int(self._history(k)[0][-1])
        seasons = max(1, -(-(t - last) // self.season))   # ceil: enough seasons back to land in the history
        return t - seasons * self.season

    def _predict_one(self, k, t):
        return self._lookup(k, self._season_back(k, t))


class LevelAdjustedSeasonalNaive(SeasonalNaive):
    """Seasonal naive moved to the current level: last season's value times the ratio (or plus the
    difference) of the mean of the last `window` steps to the mean of the same steps a season earlier.
    Catches a store that has grown since last year, which plain seasonal naive cannot."""

    name = "level_adjusted_seasonal_naive"

    def __init__(self, season: int, window: int, adjust: str = "ratio", **kwargs):
        super().__init__(season, **kwargs)
        if window < 1 or adjust not in ("ratio", "difference"):
            raise ValueError("window must be >= 1 and adjust 'ratio' or 'difference'")
        self.window, self.adjust = window, adjust
        self.min_history = season + window

    def fit(self, frame: pd.DataFrame) -> "LevelAdjustedSeasonalNaive":
        super().fit(frame)
        self.level_ = {}
        for k, (t, _) in self.history_.items():
            last = int(t[-1])
            recent = [self._lookup(k, s) for s in range(last - self.window + 1, last + 1)]
            before = [self._lookup(k, s - self.season) for s in range(last - self.window + 1, last + 1)]
            now, then = float(np.mean(recent)), float(np.mean(before))
            if self.adjust == "ratio" and then <= 0:
                raise ValueError(f"{self.name}: key {k!r} has a non-positive level a season ago; use adjust='difference'")
            self.level_[k] = now / then if self.adjust == "ratio" else now - then
        return self

    def _predict_one(self, k, t):
        value = super()._predict_one(k, t)
        level = self.level_[k]
        return value * level if self.adjust == "ratio" else value + level


class MeanByKey(_ByKey):
    """The historical mean per key (e.g. store x product); the overall mean for a key never seen,
    which is the one place a baseline answers for an unseen key (say so where it matters).
    `key=None` is the historical average of a single series."""

    name = "mean_by_key"

    def fit(self, frame: pd.DataFrame) -> "MeanByKey":
        columns = _key_columns(self.key)
        if self.time in frame.columns:      # a stacked frame holds a target once per horizon: count it once
            frame = frame.drop_duplicates([*columns, self.time], keep="last")
        y = frame[self.target].to_numpy(float)
        if y.size < self.min_history:
            raise ValueError(f"{self.name}: needs at least {self.min_history} observation(s)")
        self.global_mean_ = float(np.mean(y))
        grouped = pd.DataFrame({"k": _keys(frame, columns), "y": y}).groupby("k", sort=False)["y"].mean()
        self.means_ = {k: float(v) for k, v in grouped.items()}
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        keys = _keys(frame, _key_columns(self.key))
        return np.array([self.means_.get(k, self.global_mean_) for k in keys], dtype=float)
