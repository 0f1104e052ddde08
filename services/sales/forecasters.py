"""The multi-week forecasters as plain functions of the features (numpy only).

Training's candidates (services/sales/candidates.py) predict through these functions and serving
(services/sales/model.py) forecasts through them, so a backtested forecast and a served one are the
same arithmetic on the same features (services/sales/features.forecast_features).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .calendar import CALENDAR_EFFECTS
from .features import forecast_matrix

# What the global linear model reads; the order of its coefficients in the artifact.
CALENDAR_INPUTS = [f"n_{name}" for name in CALENDAR_EFFECTS]
# What the gradient-boosted model reads, in its ONNX input's column order.
GBM_INPUTS = ["horizon", "holiday", *CALENDAR_INPUTS, "dev", "spike", "g4_8", "g13_8", "g8_dev"]


def gbm_inputs(effects) -> list[str]:
    """GBM_INPUTS without the calendar effects not in `effects` (the order kept)."""
    return [n for n in GBM_INPUTS if n not in CALENDAR_INPUTS or n in effects]


BASELINE_COLUMNS = {"seasonal_naive": "snaive", "level_adjusted_seasonal_naive": "lasn"}


def linear_forecast(features: dict[str, np.ndarray], calendar: Sequence[float], pooling: float,
                    growth: float = 1.0) -> np.ndarray:
    """Last year's week, moved by the store's year-on-year growth (mean log over 8 weeks) carried at
    the share `growth`, by the calendar's shift (Easter, paydays, Christmas Eve) and partly toward
    every store's shape: exp(log_ref + growth * g8 + calendar . n + pooling * dev), pooling < 0
    shrinking the store's own week, growth < 1 damping its recent growth (1: the level-adjusted
    seasonal naive's full carry-over, what artifacts without it meant)."""
    calendar = np.asarray(calendar, dtype=float)
    if (calendar.shape != (len(CALENDAR_INPUTS),) or not np.all(np.isfinite(calendar))
            or not np.isfinite(pooling) or not np.isfinite(growth)):
        raise ValueError(f"the linear model needs {len(CALENDAR_INPUTS)} finite calendar effects, a finite pooling "
                         "and a finite growth")
    shift = sum(c * features[name] for c, name in zip(calendar, CALENDAR_INPUTS))
    return np.exp(features["log_ref"] + growth * features["g8"] + shift + pooling * features["dev"])


def gbm_forecast(features: dict[str, np.ndarray], run: Callable[[np.ndarray], np.ndarray],
                 inputs: Sequence[str] = tuple(GBM_INPUTS)) -> np.ndarray:
    """The level-adjusted seasonal naive times exp(the booster's log ratio); `run` maps float32 rows
    (GBM_INPUTS, store-major) to log ratios (ONNX in serving, the native booster in training)."""
    lasn = features["lasn"]
    ratio = np.asarray(run(forecast_matrix(features, list(inputs))), dtype=float).reshape(lasn.shape)
    return lasn * np.exp(ratio)


def baseline_forecast(features: dict[str, np.ndarray], name: str, last_value: np.ndarray | None = None) -> np.ndarray:
    if name == "last_value":
        if last_value is None:
            raise ValueError("last_value needs each store's last week")
        return np.tile(np.asarray(last_value, dtype=float)[:, None], (1, features["lasn"].shape[1]))
    return features[BASELINE_COLUMNS[name]]
