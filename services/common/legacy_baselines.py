"""The array baselines sales and forecast still call, until they train through services.common.backtest.

New code uses services/common/baselines.py (one frame interface for every model); this module
goes when the last caller is ported (issues 16, 17).
"""
from __future__ import annotations

import numpy as np


class Naive:
    """Tomorrow looks like today: repeats the last observed value."""

    name = "last_value_naive"

    def fit(self, y) -> "Naive":
        y = np.asarray(y, dtype=float)
        if y.size < 1:
            raise ValueError("Naive needs at least one observation")
        self.last_ = float(y[-1])
        return self

    def predict(self, h: int) -> np.ndarray:
        return np.full(h, self.last_)


class SeasonalNaive:
    """Repeats the value one season earlier (for weekly retail data: the same week last year)."""

    name = "seasonal_naive"

    def __init__(self, season: int):
        self.season = season

    def fit(self, y) -> "SeasonalNaive":
        y = np.asarray(y, dtype=float)
        if y.size < self.season:
            raise ValueError(f"SeasonalNaive needs at least {self.season} observations, got {y.size}")
        self.last_season_ = y[-self.season:]
        return self

    def predict(self, h: int) -> np.ndarray:
        reps = int(np.ceil(h / self.season))
        return np.tile(self.last_season_, reps)[:h]


class MeanByKey:
    """The historical mean per key (e.g. store x product), with the global mean for unseen keys."""

    name = "mean_by_key"

    def fit(self, keys, y) -> "MeanByKey":
        y = np.asarray(y, dtype=float)
        self.global_mean_ = float(np.mean(y))
        sums: dict = {}
        for key, value in zip(keys, y):
            total, count = sums.get(key, (0.0, 0))
            sums[key] = (total + value, count + 1)
        self.means_ = {key: total / count for key, (total, count) in sums.items()}
        return self

    def predict(self, keys) -> np.ndarray:
        return np.array([self.means_.get(key, self.global_mean_) for key in keys])
