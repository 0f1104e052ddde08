"""The one feature function, used by the pipeline and by serving (no train/serve skew).

Every feature is computable for any (week, store, product, price, promotion) at prediction time:
price and promotion come from the request, the store/product levels are encodings learned from
the training rows and shipped in the artifact JSON, seasonality comes from the calendar. No lag
of units is used: the data is a sparse sample (1-24 of 135 weeks per store x product), so past
units are unknown for most requests.

Works on numpy arrays (vectorised: a price curve is one call), so the request path needs no pandas.
"""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np

FEATURES: list[tuple[str, str]] = [
    ("pair_level", "float: store x product mean of log1p(units) in the fitting rows, shrunk toward "
                   "product_level + store_effect (leave-one-out on fitting rows)"),
    ("product_level", "float: product mean of log1p(units) in the fitting rows"),
    ("store_effect", "float: store mean of log1p(units) - product_level in the fitting rows (shrunk)"),
    ("log_price", "float: log(shelf price, USD)"),
    ("log_base_price", "float: log(base price, USD)"),
    ("discount", "float: 1 - price / base_price (negative when the price is above the base price)"),
    ("price_index", "float: price / the product's usual base price"),
    ("display", "0/1: in-store display"),
    ("feature", "0/1: featured in the retailer's ad"),
    ("tpr", "0/1: temporary price reduction only (no display, no feature)"),
    ("week_sin", "float: sin(2 pi ISO week / 52.18) of the week-ending date"),
    ("week_cos", "float: cos(2 pi ISO week / 52.18) of the week-ending date"),
]
FEATURE_NAMES = [name for name, _ in FEATURES]
N_FEATURES = len(FEATURE_NAMES)
WEEKS_PER_YEAR = 52.1775
WEEK_ENDS_ON = 2  # Wednesday (Monday = 0): every WEEK_END_DATE in the data is a Wednesday


def week_ending(day: date) -> date:
    """The Thursday..Wednesday week containing `day`, named by its Wednesday (as the data is)."""
    return day + timedelta(days=(WEEK_ENDS_ON - day.weekday()) % 7)


def season(iso_weeks) -> tuple[np.ndarray, np.ndarray]:
    angle = 2.0 * np.pi * np.asarray(iso_weeks, dtype=np.float64) / WEEKS_PER_YEAR
    return np.sin(angle), np.cos(angle)


def feature_matrix(*, pair_level, product_level, store_effect, price, base_price, usual_price,
                   display, feature, tpr, iso_week) -> np.ndarray:
    """Rows of FEATURE_NAMES as float32. Every argument is a scalar or an array of one length."""
    price = np.asarray(price, dtype=np.float64)
    base_price = np.asarray(base_price, dtype=np.float64)
    week_sin, week_cos = season(iso_week)
    columns = [pair_level, product_level, store_effect, np.log(price), np.log(base_price),
               1.0 - price / base_price, price / np.asarray(usual_price, dtype=np.float64),
               display, feature, tpr, week_sin, week_cos]
    arrays = np.broadcast_arrays(*[np.asarray(c, dtype=np.float64) for c in columns])
    return np.ascontiguousarray(np.stack(arrays, axis=-1).reshape(-1, N_FEATURES), dtype=np.float32)
