"""The one feature function, used by training and by serving (no train/serve skew).

Works on plain floats and numpy, so the request path needs no pandas.
"""
from __future__ import annotations

from datetime import date

import numpy as np

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
