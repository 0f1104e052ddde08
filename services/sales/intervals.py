"""/forecast's 90% interval: split-conformal on |log(actual / forecast)|, per horizon band, with the
segment scalings a pooled width misses (training only).

At an origin, the chosen model is backtested on the CALIBRATION latest origins whose 13 weeks end by
it (services/common/backtest on the frame's rows up to the origin), which gives residuals per store,
band and holiday week. The variants:

- `pooled`: one quantile per band;
- `store`: residuals divided by the store's scale (its mean residual over all stores', shrunk toward
  1 by the number of its residuals), one quantile per band of the scaled residuals, times the scale;
- `holiday`: holiday weeks (weight > 1) get their own quantile, all bands pooled;
- `store+holiday`: both.

Which variant serves is decided on the validation origins that have CALIBRATION origins behind them
(`choose_variant`); the test origins only report it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from services.common.backtest import backtest
from services.common.modeling import conformal_quantile
from services.common.splits import RollingOrigin

from .features import BANDS, HORIZON

VARIANTS = {"pooled": (False, False), "store": (True, False), "holiday": (False, True), "store+holiday": (True, True)}
SHRINK = 50          # pseudo-residuals at scale 1 added to each store's
MIN_HOLIDAY = 30     # fewer holiday residuals than this: holiday weeks use their band's quantile


@dataclass
class Calibration:
    """Residuals of one calibration backtest, and the half-widths each variant gives."""

    residuals: pd.DataFrame           # store, band, holiday, r
    level: float
    scale: dict[int, float] = field(default_factory=dict)

    @classmethod
    def of(cls, table: pd.DataFrame, level: float) -> "Calibration":
        if not ((table["actual"] > 0).all() and (table["prediction"] > 0).all()):
            raise ValueError("relative intervals need positive actuals and predictions")
        r = pd.DataFrame({"store": table["store"].to_numpy(int), "band": table["band"].to_numpy(),
                          "holiday": (table["weight"].to_numpy(float) > 1),
                          "r": np.abs(np.log(table["actual"].to_numpy(float) / table["prediction"].to_numpy(float)))})
        mean = r["r"].mean()
        grouped = r.groupby("store")["r"].agg(["sum", "count"])
        scale = {int(s): float((row["sum"] + SHRINK * mean) / (row["count"] + SHRINK) / mean)
                 for s, row in grouped.iterrows()}
        return cls(r, level, scale)

    def spec(self, variant: str) -> dict[str, Any]:
        """What serving needs: half-widths per band (log), the holiday one, the store scales."""
        by_store, by_holiday = VARIANTS[variant]
        r = self.residuals
        scale = r["store"].map(self.scale).to_numpy() if by_store else np.ones(len(r))
        z = r["r"].to_numpy() / scale
        holiday = r["holiday"].to_numpy()
        use_holiday = by_holiday and holiday.sum() >= MIN_HOLIDAY
        plain = ~holiday if use_holiday else np.ones(len(r), bool)
        out: dict[str, Any] = {"variant": variant,
                               "half_width_log": {b: conformal_quantile(z[plain & (r["band"].to_numpy() == b)], self.level)
                                                  for b in BANDS}}
        if use_holiday:
            out["holiday_half_width_log"] = conformal_quantile(z[holiday], self.level)
        if by_store:
            out["store_scale"] = {str(s): v for s, v in sorted(self.scale.items())}
        return out


def half_widths(spec: dict[str, Any], stores: np.ndarray, bands: np.ndarray, holiday: np.ndarray) -> np.ndarray:
    """The log half-width of each row under a spec (serving computes the same, services/sales/model.py)."""
    out = np.array([spec["half_width_log"][b] for b in bands], dtype=float)
    if "holiday_half_width_log" in spec:
        out = np.where(holiday, spec["holiday_half_width_log"], out)
    if "store_scale" in spec:
        out = out * np.array([spec["store_scale"][str(int(s))] for s in stores])
    return out


def calibration_plan(origins: int) -> RollingOrigin:
    return RollingOrigin(time="ds", horizon=HORIZON, n_validation=0, n_test=origins, step=1, origin="origin")


def calibrate(model: Any, frame: pd.DataFrame, origins: int, level: float) -> Calibration:
    """The model backtested on the `origins` latest origins of `frame` whose windows end in it."""
    table = backtest([model], frame, calibration_plan(origins), keys=["store"], carry=["band", "weight"], quiet=True)
    return Calibration.of(table, level)


def interval_rows(model: Any, frame: pd.DataFrame, origins: list, calibration_origins: int,
                  level: float, role: str) -> pd.DataFrame:
    """For each origin: the model fitted on the rows up to it, its forecasts of the origin's 13 weeks,
    and every variant's interval, calibrated on the rows up to the origin only."""
    parts = []
    for origin in origins:
        origin = pd.Timestamp(origin)
        past = frame[frame["ds"] <= origin]
        cal = calibrate(model, past, calibration_origins, level)
        rows = frame[(frame["origin"] == origin) & (frame["ds"] > origin)]
        from services.common.modeling import fresh
        fitted = fresh(model).fit(past)
        prediction = np.asarray(fitted.predict(rows.drop(columns=["y"])), dtype=float)
        base = pd.DataFrame({"role": role, "origin": origin, "store": rows["store"].to_numpy(int),
                             "ds": rows["ds"].to_numpy(), "horizon": rows["horizon"].to_numpy(int),
                             "band": rows["band"].to_numpy(), "weight": rows["weight"].to_numpy(float),
                             "actual": rows["y"].to_numpy(float), "prediction": prediction})
        base["holiday_week"] = np.where(base["weight"] > 1, "holiday", "other")
        for variant in VARIANTS:
            half = half_widths(cal.spec(variant), base["store"].to_numpy(), base["band"].to_numpy(),
                               base["weight"].to_numpy() > 1)
            parts.append(base.assign(variant=variant, lower=prediction * np.exp(-half),
                                     upper=prediction * np.exp(half)))
    return pd.concat(parts, ignore_index=True)


def miss(rows: pd.DataFrame, level: float = 0.9, floor: float = 0.8) -> dict[str, float]:
    """How far a variant's intervals are from calibrated: |pooled - level| + |holiday weeks - level| +
    the share of stores below `floor` (lower is better)."""
    hit = (rows["actual"] >= rows["lower"]) & (rows["actual"] <= rows["upper"])
    pooled = float(hit.mean())
    holiday = float(hit[rows["weight"] > 1].mean()) if (rows["weight"] > 1).any() else level
    stores = hit.groupby(rows["store"]).mean()
    below = float((stores < floor).mean())
    return {"pooled": pooled, "holiday": holiday, "stores_below": below, "min_store": float(stores.min()),
            "score": abs(pooled - level) + abs(holiday - level) + below}


def choose_variant(rows: pd.DataFrame, level: float) -> tuple[str, dict[str, dict[str, float]]]:
    """The variant with the lowest `miss` on the validation rows (ties: the simpler, listed first)."""
    scores = {v: miss(rows[rows["variant"] == v], level) for v in VARIANTS}
    best = min(VARIANTS, key=lambda v: (round(scores[v]["score"], 12), list(VARIANTS).index(v)))
    return best, scores
