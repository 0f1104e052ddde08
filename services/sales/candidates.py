"""The /forecast candidates on the kernel's model interface (training only).

Every model fits on a stacked frame (one row per store x origin x horizon, services/sales/train.py
builds it) and predicts its rows. A fold's fitting rows are those whose target week is at or before
the fold's origin, so a model that rebuilds a store's weekly history from them (ARIMA, the calendar
effects) sees nothing after the origin; feature columns were computed at each row's own origin.
Predictions go through services/sales/forecasters.py, the functions serving uses.
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from . import arima
from .calendar import calendar_counts, is_holiday_week
from .features import SEASON
from .forecasters import CALENDAR_INPUTS, gbm_forecast, gbm_inputs, linear_forecast

KEY, TIME, ORIGIN, TARGET, WEIGHT = "store", "ds", "origin", "y", "weight"


def weekly_history(frame: pd.DataFrame) -> tuple[list[int], list[date], np.ndarray]:
    """Stores, weeks and the sales matrix (stores x weeks) held by the frame's targets."""
    one = frame.drop_duplicates([KEY, TIME]).pivot(index=KEY, columns=TIME, values=TARGET).sort_index(axis=1)
    weeks = [pd.Timestamp(w).date() for w in one.columns]
    if one.isna().any().any() or any((b - a).days != 7 for a, b in zip(weeks, weeks[1:])):
        raise ValueError("the frame's targets must cover every week of every store")
    return [int(s) for s in one.index], weeks, one.to_numpy(float)


def _columns(frame: pd.DataFrame, names) -> dict[str, np.ndarray]:
    return {n: frame[n].to_numpy(float) for n in names}


def _fit_weights(frame: pd.DataFrame, base: np.ndarray) -> np.ndarray:
    """Holiday-weighted and in dollars (what WMAE weighs), scaled to mean 1."""
    w = frame[WEIGHT].to_numpy(float) * base
    return w / w.mean()


def calendar_effects(sales: np.ndarray, weeks: list[date], ridge: float = 1.0, half: int = 4,
                     keep: tuple[str, ...] | None = None) -> np.ndarray:
    """How much a week's year-on-year log growth moves per unit of each calendar difference, pooled
    over stores. Each week's growth and calendar difference are taken relative to the mean of their
    `half` neighbours on either side, so a store's trend does not pass for a calendar effect."""
    if sales.shape[1] <= SEASON + 2 * half:
        return np.zeros(len(CALENDAR_INPUTS))
    log_sales = np.log(sales)
    growth = log_sales[:, SEASON:] - log_sales[:, :-SEASON]                          # (stores, J)
    shift = np.array([np.subtract(calendar_counts(weeks[j]), calendar_counts(weeks[j - SEASON]))
                      for j in range(SEASON, len(weeks))])                           # (J, effects)

    def local(a: np.ndarray) -> np.ndarray:
        n = a.shape[-1]
        out = np.empty_like(a)
        for i in range(n):
            near = [j for j in range(max(0, i - half), min(n, i + half + 1)) if j != i]
            out[..., i] = a[..., i] - a[..., near].mean(axis=-1)
        return out

    g, d = local(growth), local(shift.T).T
    used = [i for i, name in enumerate(CALENDAR_INPUTS) if keep is None or name in keep]
    out = np.zeros(len(CALENDAR_INPUTS))
    if not used:
        return out
    x = np.tile(d[:, used], (sales.shape[0], 1))
    out[used] = np.linalg.solve(x.T @ x + ridge * np.eye(x.shape[1]), x.T @ g.reshape(-1))
    return out


class GlobalLinear:
    """One model for all stores: last year's week moved by the store's growth, by the calendar's
    shift, and toward every store's shape for that week. Its calendar effects, the share of a store's
    recent growth that carries into the next 13 weeks and one pooling weight are estimated on all
    stores' history up to the origin (least squares, no tuning)."""

    name = "global_linear"
    needs = ["log_ref", "g8", "dev", *CALENDAR_INPUTS]

    def __init__(self, effects: tuple[str, ...] = tuple(CALENDAR_INPUTS)):
        self.effects = tuple(effects)        # the calendar effects fitted (the others stay 0)

    def fit(self, frame: pd.DataFrame) -> "GlobalLinear":
        _, weeks, sales = weekly_history(frame)
        self.calendar_ = calendar_effects(sales, weeks, keep=self.effects)
        rows = frame[np.isfinite(frame[self.needs].to_numpy(float)).all(axis=1)]
        self.growth_, self.pooling_ = 1.0, 0.0
        if len(rows):
            # the log error of full growth carry-over regressed on the growth and the store's own
            # shape: the ridge keeps a fold with few rows at the baseline's assumption (growth 1,
            # no pooling), and 8 weeks' growth that partly reverts shows as growth < 1
            cols = _columns(rows, self.needs)
            base = linear_forecast(cols, self.calendar_, 0.0)
            r = np.log(rows[TARGET].to_numpy(float)) - np.log(base)
            x, w = np.column_stack([cols["g8"], cols["dev"]]), _fit_weights(rows, base)
            damping, pooling = np.linalg.solve(x.T @ (w[:, None] * x) + np.eye(2), x.T @ (w * r))
            self.growth_, self.pooling_ = float(1.0 + damping), float(pooling)
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return linear_forecast(_columns(frame, self.needs), self.calendar_, self.pooling_, self.growth_)

    def params(self) -> dict:
        return {"calendar": dict(zip(CALENDAR_INPUTS, self.calendar_.tolist())), "pooling": self.pooling_,
                "growth": self.growth_}


class GlobalGBM:
    """LightGBM across all stores, direct multi-horizon (the horizon is a feature): the log ratio of
    a week's sales to its level-adjusted seasonal naive, from calendar, holiday and the store's
    recent growth and last-year shape, all known at the origin; no exogenous series."""

    name = "global_gbm"
    PARAMS = {"objective": "l2", "learning_rate": 0.05, "num_leaves": 8, "min_child_samples": 100,
              "n_estimators": 200, "reg_lambda": 100.0, "subsample": 0.8, "subsample_freq": 1,
              "colsample_bytree": 0.8, "n_jobs": 1, "verbose": -1}

    def __init__(self, seed: int = 42, effects: tuple[str, ...] = tuple(CALENDAR_INPUTS)):
        self.seed = seed
        self.effects = tuple(effects)        # the calendar inputs the booster reads

    @property
    def inputs(self) -> list[str]:
        return gbm_inputs(self.effects)

    def seeded(self, seed: int) -> "GlobalGBM":
        return GlobalGBM(seed, self.effects)

    def fit(self, frame: pd.DataFrame) -> "GlobalGBM":
        from lightgbm import LGBMRegressor

        rows = frame[np.isfinite(frame["lasn"].to_numpy(float))]
        self.booster_ = None
        if rows.empty:          # the first origin with 60 weeks behind it: no earlier row to learn from,
            return self         # so the booster's log ratio is 0 (the level-adjusted seasonal naive)
        x = np.ascontiguousarray(rows[self.inputs].to_numpy(np.float32))
        lasn = rows["lasn"].to_numpy(float)
        target = np.log(rows[TARGET].to_numpy(float) / lasn)
        self.booster_ = LGBMRegressor(**self.PARAMS, random_state=self.seed).fit(
            x, target, sample_weight=_fit_weights(rows, lasn))
        return self

    def log_ratio(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(len(x)) if self.booster_ is None else self.booster_.predict(x)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return gbm_forecast(_columns(frame, [*self.inputs, "lasn"]), self.log_ratio, self.inputs)


class Arima:
    """The per-store ARIMA (services/sales/arima.py), fitted on each store's weeks up to the origin;
    forecasts from the end of that history only."""

    name = "arima"

    def fit(self, frame: pd.DataFrame) -> "Arima":
        stores, weeks, sales = weekly_history(frame)
        holidays = np.array([1.0 if is_holiday_week(w) else 0.0 for w in weeks])
        self.last_week_ = weeks[-1]
        self.history_ = {s: sales[i] for i, s in enumerate(stores)}
        self.holidays_ = holidays
        self.params_ = {s: arima.fit(sales[i], holidays) for i, s in enumerate(stores)}
        self._means: dict[int, np.ndarray] = {}
        return self

    def _mean(self, store: int, steps: int) -> np.ndarray:
        if store not in self.params_:
            raise ValueError(f"{self.name}: store {store} was not in the fitting frame")
        if len(self._means.get(store, ())) < steps:
            future = np.array([1.0 if is_holiday_week(self.last_week_ + pd.Timedelta(weeks=h).to_pytimedelta()) else 0.0
                               for h in range(1, steps + 1)])
            self._means[store] = arima.forecast(self.params_[store], self.history_[store], self.holidays_,
                                                future, 0.9)[0]
        return self._means[store]

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        ahead = ((frame[TIME] - pd.Timestamp(self.last_week_)).dt.days // 7).to_numpy()
        if (ahead < 1).any() or ((frame[ORIGIN] != pd.Timestamp(self.last_week_)).any()):
            raise ValueError(f"{self.name}: forecasts only from the end of its history ({self.last_week_})")
        steps = int(ahead.max())
        out = np.empty(len(frame))
        for i, (store, h) in enumerate(zip(frame[KEY].to_numpy(), ahead)):
            out[i] = self._mean(int(store), steps)[h - 1]
        return out
