"""The one feature function, used by training and by serving (no train/serve skew).

Every feature is computable for any (week, store, product, price, promotion) at prediction time:
price and promotion come from the request, the store/product levels are encodings learned from
the fitting rows and shipped in the artifact JSON, seasonality comes from the calendar. No lag
of units is used: the data is a sparse sample (1-27 weeks per store x product), so past units
are unknown for most requests.

Levels are in log1p(units). "base" levels are over unpromoted rows only (no display, no
feature, no TPR): the promotion-adjusted baseline is `pair_base` plus the lift of the row's
promotion cell, and the boosters see both.

Works on numpy arrays and plain dicts (vectorised: a price curve is one call), so the request
path needs no pandas.
"""
from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import numpy as np

FEATURES: list[tuple[str, str]] = [
    ("pair_level", "float: store x product mean of log1p(units) in the fitting rows, shrunk toward "
                   "product_level + store_effect (leave-one-out on fitting rows)"),
    ("pair_base", "float: the same over unpromoted fitting rows, shrunk toward product_base + store_base "
                  "(leave-one-out on fitting rows)"),
    ("product_level", "float: product mean of log1p(units) in the fitting rows"),
    ("product_base", "float: product mean of log1p(units) in the unpromoted fitting rows"),
    ("store_effect", "float: store mean of log1p(units) - product_level in the fitting rows (shrunk)"),
    ("log_price", "float: log(shelf price, USD)"),
    ("discount", "float: 1 - price / base_price (negative when the price is above the base price)"),
    ("price_index", "float: price / the product's usual base price"),
    ("log_base_index", "float: log(base price / the product's usual base price)"),
    ("display", "0/1: in-store display"),
    ("feature", "0/1: featured in the retailer's ad"),
    ("tpr", "0/1: temporary price reduction only (no display, no feature)"),
    ("week_sin", "float: sin(2 pi ISO week / 52.18) of the week-ending date"),
    ("week_cos", "float: cos(2 pi ISO week / 52.18) of the week-ending date"),
]
FEATURE_NAMES = [name for name, _ in FEATURES]
N_FEATURES = len(FEATURE_NAMES)
# Direction of each constrained feature for the boosters' monotone constraints: a higher shelf
# price (log_price, price_index up, discount down) never raises units; a promotion flag never
# lowers them. Together: units are non-increasing in price for fixed flags, and also when TPR is
# derived from the price (TPR switches off as the price rises to the base price).
MONOTONE = {"log_price": -1, "discount": 1, "price_index": -1, "display": 1, "feature": 1, "tpr": 1}
WEEKS_PER_YEAR = 52.1775
WEEK_ENDS_ON = 2  # Wednesday (Monday = 0): every WEEK_END_DATE in the data is a Wednesday
CELLS = ("display", "feature", "tpr")


def week_ending(day: date) -> date:
    """The Thursday..Wednesday week containing `day`, named by its Wednesday (as the data is)."""
    return day + timedelta(days=(WEEK_ENDS_ON - day.weekday()) % 7)


def season(iso_weeks) -> tuple[np.ndarray, np.ndarray]:
    angle = 2.0 * np.pi * np.asarray(iso_weeks, dtype=np.float64) / WEEKS_PER_YEAR
    return np.sin(angle), np.cos(angle)


def cell(display, feature, tpr) -> np.ndarray:
    """The promotion cell as one integer 0..7 (display * 4 + feature * 2 + tpr)."""
    return (np.asarray(display, dtype=np.int64) * 4 + np.asarray(feature, dtype=np.int64) * 2
            + np.asarray(tpr, dtype=np.int64))


def pair_key(store_id: str, product_id: str) -> str:
    return f"{store_id}|{product_id}"


def levels(enc: dict[str, Any], store_id: str, product_id: str) -> dict[str, float]:
    """The five level features of one store x product from the encodings (the artifact's JSON).

    An unseen pair gets its prior (product level + store effect); an unseen store gets effect 0.
    """
    product = enc["products"].get(product_id)
    store = enc["stores"].get(store_id, {"effect": 0.0, "base_effect": 0.0})
    product_level = product["level"] if product else enc["global_level"]
    product_base = product["base"] if product else enc["global_base"]
    pair = enc["pairs"].get(pair_key(store_id, product_id), {})
    return {"pair_level": pair.get("level", product_level + store["effect"]),
            "pair_base": pair.get("base", product_base + store["base_effect"]),
            "product_level": product_level, "product_base": product_base, "store_effect": store["effect"]}


def feature_matrix(*, pair_level, pair_base, product_level, product_base, store_effect, price, base_price,
                   usual_price, display, feature, tpr, iso_week) -> np.ndarray:
    """Rows of FEATURE_NAMES as float32. Every argument is a scalar or an array of one length."""
    price = np.asarray(price, dtype=np.float64)
    base_price = np.asarray(base_price, dtype=np.float64)
    usual_price = np.asarray(usual_price, dtype=np.float64)
    week_sin, week_cos = season(iso_week)
    columns = [pair_level, pair_base, product_level, product_base, store_effect, np.log(price),
               1.0 - price / base_price, price / usual_price, np.log(base_price / usual_price),
               display, feature, tpr, week_sin, week_cos]
    arrays = np.broadcast_arrays(*[np.asarray(c, dtype=np.float64) for c in columns])
    return np.ascontiguousarray(np.stack(arrays, axis=-1).reshape(-1, N_FEATURES), dtype=np.float32)


def feature_row(*, pair_level: float, pair_base: float, product_level: float, product_base: float,
                store_effect: float, price: float, base_price: float, usual_price: float, display: int, feature: int,
                tpr: int, iso_week: int) -> list[float]:
    """One row of feature_matrix as its float64 values (as float32, the same row: tests/demand/test_features.py
    checks it bit for bit): the arithmetic in Python floats (the same IEEE operations), the logs through
    numpy (whose log differs from math.log in the last bit now and then), the season from a table of
    `season` over every ISO week. A prediction is one row, and feature_matrix's broadcasting costs more
    than the model there."""
    logs = np.log(np.array((price, base_price / usual_price))).tolist()
    week_sin, week_cos = _season_table()
    return [pair_level, pair_base, product_level, product_base, store_effect, logs[0], 1.0 - price / base_price,
            price / usual_price, logs[1], display, feature, tpr, week_sin[iso_week], week_cos[iso_week]]


@lru_cache(maxsize=1)
def _season_table() -> tuple[list[float], list[float]]:
    week_sin, week_cos = season(np.arange(54))  # ISO weeks 1..53 (0 unused)
    return week_sin.tolist(), week_cos.tolist()


def promo_log1p(lift: dict[str, float], pair_base, cells) -> np.ndarray:
    """The promotion-adjusted baseline in log1p(units): pair_base + the lift of the row's cell.

    A cell never seen in the fitting rows (e.g. TPR together with display) takes the lift of the
    same display/feature cell without TPR: TPR_ONLY means "no display, no feature" in the data.
    """
    cells = np.asarray(cells, dtype=np.int64)
    table = np.array([lift.get(str(c), lift.get(str(c & ~1), 0.0)) for c in range(8)])
    return np.asarray(pair_base, dtype=np.float64) + table[cells]
