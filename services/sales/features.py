"""The one feature function, used by training and by serving (no train/serve skew).

Works on plain floats and numpy, so the request path needs no pandas.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Sequence

import numpy as np

from .calendar import CALENDAR_EFFECTS, calendar_counts, is_holiday_week

FEATURES: list[tuple[str, str]] = [
    ("store_mean_sales", "float: the store's mean weekly sales in the fitting window"),
    ("year", "int"),
    ("month", "int"),
    ("week_of_year", "int: ISO week"),
    ("Holiday_Flag", "0/1"),
    ("Temperature", "float: deg F"),
    ("Fuel_Price", "float: USD/gallon"),
    ("CPI", "float"),
    ("Unemployment", "float: percent"),
    ("lag_1", "float: sales 1 week before"),
    ("lag_2", "float: sales 2 weeks before"),
    ("lag_52", "float: sales 52 weeks before (same week last year)"),
]
FEATURE_NAMES = [name for name, _ in FEATURES]
LAGS = (1, 2, 52)


def feature_row(*, store_mean: float, week: date, holiday: int, temperature: float, fuel_price: float,
                cpi: float, unemployment: float, lags: dict[int, float]) -> list[float]:
    return [store_mean, week.year, week.month, week.isocalendar()[1], holiday, temperature, fuel_price,
            cpi, unemployment, lags[1], lags[2], lags[52]]


def feature_matrix(rows: list[list[float]]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float32).reshape(-1, len(FEATURE_NAMES))


# -- the multi-week forecast (/forecast): features known at the origin --------------------------------
# One function for training (called at every backtest origin on the history up to it) and serving
# (called once at load on the whole history). Numpy and dates only; nothing after the origin is read.
HORIZON = 13          # weeks ahead that are backtested, and so the weeks /forecast serves
SEASON = 52           # the same week last year
LEVEL_WINDOW = 8      # the store's level: its last 8 weeks against the same 8 weeks a year earlier
MIN_HISTORY = SEASON + LEVEL_WINDOW   # 60 weeks
BANDS = {"h1-4": (1, 4), "h5-8": (5, 8), "h9-13": (9, 13)}
FORECAST_FEATURES: list[tuple[str, str]] = [
    ("horizon", "int: weeks after the origin, 1..13"),
    ("holiday", "0/1: the target week holds Super Bowl, Labor Day, Thanksgiving or Christmas (known in advance)"),
    *[(f"n_{name}", f"float: {name} of the target week minus that of the same week last year, net of the "
                    "same difference averaged over the level window") for name in CALENDAR_EFFECTS],
    ("dev", "float: log of last year's week over the store's level then, minus the mean of that over all stores"),
    ("spike", "float: log of last year's week over the mean of its two neighbours"),
    ("g4_8", "float: store growth over the last 4 weeks minus over the last 8 (log, year on year)"),
    ("g13_8", "float: store growth over the last 13 weeks minus over the last 8 (NaN before 65 weeks)"),
    ("g8_dev", "float: store growth over the last 8 weeks minus the mean of all stores'"),
]
FORECAST_FEATURE_NAMES = [name for name, _ in FORECAST_FEATURES]
# Bases every forecaster starts from (not model inputs themselves).
BASES = ("snaive", "lasn", "log_ref", "g8")


def band_of(horizon: int) -> str:
    return next(name for name, (lo, hi) in BANDS.items() if lo <= horizon <= hi)


def _growth(log_sales: np.ndarray, window: int) -> np.ndarray:
    """Log of the mean of the last `window` weeks over the mean of the same weeks a year earlier."""
    n = log_sales.shape[1]
    if n < SEASON + window:
        return np.full(log_sales.shape[0], np.nan)
    sales = np.exp(log_sales)
    now = sales[:, n - window:].mean(axis=1)
    then = sales[:, n - window - SEASON:n - SEASON].mean(axis=1)
    return np.log(now) - np.log(then)


def forecast_features(sales: np.ndarray, weeks: Sequence[date], horizon: int = HORIZON) -> dict[str, np.ndarray]:
    """Features and bases, each (stores, horizon), for the `horizon` weeks after the last column of
    `sales` (stores x weeks, positive, the weeks ending on `weeks`)."""
    sales = np.asarray(sales, dtype=float)
    stores, n = sales.shape
    if len(weeks) != n:
        raise ValueError(f"{n} weeks of sales but {len(weeks)} dates")
    if n < MIN_HISTORY:
        raise ValueError(f"need at least {MIN_HISTORY} weeks of history, got {n}")
    if not 1 <= horizon < SEASON:
        raise ValueError(f"horizon must be 1..{SEASON - 1}")
    if not np.all(sales > 0):
        raise ValueError("sales must be positive")
    log_sales = np.log(sales)
    last = weeks[-1]
    targets = [last + timedelta(weeks=h) for h in range(1, horizon + 1)]
    ref = np.arange(n - SEASON, n - SEASON + horizon)            # same week last year, per horizon
    cal = np.array([calendar_counts(w) for w in targets])          # (horizon, effects)
    cal_ref = np.array([calendar_counts(weeks[i]) for i in ref])
    window = range(n - LEVEL_WINDOW, n)
    cal_window = np.mean([np.subtract(calendar_counts(weeks[j]), calendar_counts(weeks[j - SEASON])) for j in window],
                         axis=0)
    net = cal - cal_ref - cal_window                               # (horizon, effects)

    log_ref = log_sales[:, ref]
    level_then = np.log(sales[:, n - SEASON - LEVEL_WINDOW:n - SEASON].mean(axis=1))
    ly0 = log_ref - level_then[:, None]
    g8 = _growth(log_sales, LEVEL_WINDOW)
    yoy = log_sales[:, n - LEVEL_WINDOW:] - log_sales[:, n - LEVEL_WINDOW - SEASON:n - SEASON]
    out = {
        "horizon": np.tile(np.arange(1, horizon + 1, dtype=float), (stores, 1)),
        "holiday": np.tile([1.0 if is_holiday_week(w) else 0.0 for w in targets], (stores, 1)),
        **{f"n_{name}": np.tile(net[:, i], (stores, 1)) for i, name in enumerate(CALENDAR_EFFECTS)},
        "dev": ly0 - ly0.mean(axis=0, keepdims=True),
        "spike": log_ref - (log_sales[:, ref - 1] + log_sales[:, ref + 1]) / 2,
        "g4_8": np.tile((_growth(log_sales, 4) - g8)[:, None], (1, horizon)),
        "g13_8": np.tile((_growth(log_sales, 13) - g8)[:, None], (1, horizon)),
        "g8_dev": np.tile((g8 - g8.mean())[:, None], (1, horizon)),
        "snaive": sales[:, ref],
        "lasn": sales[:, ref] * np.exp(g8)[:, None],
        "log_ref": log_ref,
        "g8": np.tile(yoy.mean(axis=1)[:, None], (1, horizon)),   # mean log growth (the linear model's level)
    }
    return out


def forecast_matrix(features: dict[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """Rows (store-major: store 0 h1..hH, store 1 ...) x the named features, float32."""
    return np.ascontiguousarray(np.stack([features[n].ravel() for n in names], axis=1), dtype=np.float32)
