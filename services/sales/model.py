"""Sales inference: ONNX RandomForest + XGBoost averaged (/predict), and the chosen multi-week
forecaster with its conformal interval (/forecast).

Loaded from a verified version folder; imports no training library and unpickles nothing. The
13-week forecast of every store is computed once at load (features through the function training
used, services/sales/features.forecast_features); a request only reads it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from services.common.errors import InputError
from services.common.onnx import OnnxModel

from . import arima
from .calendar import is_holiday_week
from .features import BANDS, HORIZON, LAGS, band_of, feature_row, forecast_features
from .forecasters import CALENDAR_INPUTS, GBM_INPUTS, baseline_forecast, gbm_forecast, linear_forecast

MAX_WEEKS_AHEAD = arima.SEASON     # /predict: lags past the history come from the ARIMA forecast


class OutOfRange(InputError):
    """A request the model cannot answer, with the field to blame (answered as a 400)."""


@dataclass
class StoreHistory:
    store_mean: float
    sales: np.ndarray
    holidays: np.ndarray
    arima_mean: np.ndarray          # /predict's lags past the history (52 weeks)
    forecast_mean: np.ndarray       # /forecast: the chosen model, HORIZON weeks
    forecast_lower: np.ndarray
    forecast_upper: np.ndarray


class SalesModel:
    def __init__(self, directory: Path, manifest: dict[str, Any]):
        self.version = manifest["version"]
        self.random_forest = OnnxModel(directory / "random_forest.onnx")
        self.xgboost = OnnxModel(directory / "xgboost.onnx")
        history = json.loads((directory / "history.json").read_text())
        params = json.loads((directory / "arima.json").read_text())
        spec = json.loads((directory / "forecast.json").read_text())
        self.dates = [date.fromisoformat(d) for d in history["dates"]]
        self.first_week, self.last_week = self.dates[0], self.dates[-1]
        self._index = {d: i for i, d in enumerate(self.dates)}
        future = [self.last_week + timedelta(weeks=k) for k in range(1, MAX_WEEKS_AHEAD + 1)]
        self.future_weeks = future
        future_holidays = np.array([1.0 if is_holiday_week(d) else 0.0 for d in future])
        keys = sorted(history["stores"], key=int)
        self.store_ids = [int(k) for k in keys]
        sales = np.array([history["stores"][k]["sales"] for k in keys], dtype=float)
        if sales.shape != (len(keys), len(self.dates)):
            raise ValueError(f"history: sales of shape {sales.shape} for {len(keys)} stores x {len(self.dates)} weeks")
        mean, lower, upper = self._forecast(directory, spec, params, sales, keys, future_holidays[:HORIZON])
        self.stores: dict[int, StoreHistory] = {}
        for i, key in enumerate(keys):
            holidays = np.asarray(history["stores"][key]["holidays"], dtype=float)
            arima_mean = arima.forecast(params["params"][key], sales[i], holidays, future_holidays, 0.9)[0]
            if not np.all(np.isfinite(arima_mean)):
                raise ValueError(f"store {key}: ARIMA parameters give non-finite forecasts")
            self.stores[int(key)] = StoreHistory(float(history["stores"][key]["store_mean"]), sales[i], holidays,
                                                 arima_mean, mean[i], lower[i], upper[i])

    def _forecast(self, directory: Path, spec: dict[str, Any], arima_params: dict[str, Any], sales: np.ndarray,
                  keys: list[str], future_holidays: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The chosen forecaster's HORIZON weeks for every store, and its interval."""
        self.forecast_model = spec["model"]
        self.horizon = int(spec["horizon"])
        if self.horizon != HORIZON:
            raise ValueError(f"forecast.json: horizon {self.horizon}, this code serves {HORIZON}")
        interval = spec["interval"]
        self.interval_level = float(interval["level"])
        self.interval_method = str(interval["method"])
        widths = interval["half_width_log"]
        if set(widths) != set(BANDS) or not all(np.isfinite(v) and v > 0 for v in widths.values()):
            raise ValueError(f"forecast.json: interval half-widths for {sorted(BANDS)} must be positive numbers")
        params = spec["params"]
        features = forecast_features(sales, self.dates, HORIZON)
        if self.forecast_model == "global_linear":
            if set(params["calendar"]) != set(CALENDAR_INPUTS):
                raise ValueError(f"forecast.json: calendar effects {sorted(params['calendar'])}, expected {CALENDAR_INPUTS}")
            calendar = [params["calendar"][name] for name in CALENDAR_INPUTS]
            mean = linear_forecast(features, calendar, float(params["pooling"]), float(params.get("growth", 1.0)))
        elif self.forecast_model == "global_gbm":
            inputs = list(params["inputs"])
            if inputs != [n for n in GBM_INPUTS if n in inputs] or not set(GBM_INPUTS) - set(CALENDAR_INPUTS) <= set(inputs):
                raise ValueError(f"forecast.json: booster inputs {inputs}, this code builds a subset of {GBM_INPUTS}")
            self.booster = OnnxModel(directory / params["onnx"])
            mean = gbm_forecast(features, self.booster.run, inputs)
        elif self.forecast_model == "arima":
            mean = np.array([arima.forecast(arima_params["params"][k], sales[i],
                                            np.array([1.0 if is_holiday_week(d) else 0.0 for d in self.dates]),
                                            future_holidays, 0.9)[0] for i, k in enumerate(keys)])
        else:
            mean = baseline_forecast(features, self.forecast_model, last_value=sales[:, -1])
        if not np.all(np.isfinite(mean)) or not np.all(mean > 0):
            raise ValueError(f"{self.forecast_model}: non-finite or non-positive forecasts")
        half = np.tile([widths[band_of(h)] for h in range(1, HORIZON + 1)], (len(keys), 1)).astype(float)
        if "holiday_half_width_log" in interval:         # holiday weeks: their own width
            weeks = [self.last_week + timedelta(weeks=h) for h in range(1, HORIZON + 1)]
            half[:, [is_holiday_week(w) for w in weeks]] = float(interval["holiday_half_width_log"])
        if "store_scale" in interval:                    # each store's width scaled by its own errors
            scale = interval["store_scale"]
            if set(scale) != set(keys) or not all(np.isfinite(v) and v > 0 for v in scale.values()):
                raise ValueError("forecast.json: store_scale must give every store a positive number")
            half *= np.array([float(scale[k]) for k in keys])[:, None]
        if not np.all(np.isfinite(half)) or not np.all(half > 0):
            raise ValueError("forecast.json: non-finite or non-positive interval half-widths")
        return mean, mean * np.exp(-half), mean * np.exp(half)

    # ------------------------------------------------------------------
    def _sales_at(self, store: StoreHistory, week: date) -> tuple[float, str]:
        if week in self._index:
            return float(store.sales[self._index[week]]), "history"
        ahead = (week - self.last_week).days // 7
        return float(store.arima_mean[ahead - 1]), "forecast"

    def check_week(self, week: date) -> None:
        earliest = self.first_week + timedelta(weeks=52)
        latest = self.last_week + timedelta(weeks=MAX_WEEKS_AHEAD)
        if week < earliest:
            raise OutOfRange("Date", f"must fall in a week ending on or after {earliest.isoformat()} "
                                     "(52 weeks of history are needed for the same-week-last-year lag)")
        if week > latest:
            raise OutOfRange("Date", f"must fall in a week ending on or before {latest.isoformat()} "
                                     f"(at most {MAX_WEEKS_AHEAD} weeks after the history ends "
                                     f"on {self.last_week.isoformat()})")

    def check_store(self, store_id: int, field: str = "Store") -> StoreHistory:
        if store_id not in self.stores:
            raise OutOfRange(field, f"unknown store {store_id}; accepted: integers "
                                      f"{self.store_ids[0]}..{self.store_ids[-1]}")
        return self.stores[store_id]

    def predict(self, store_id: int, week: date, *, holiday: int, temperature: float, fuel_price: float,
                cpi: float, unemployment: float) -> dict[str, Any]:
        store = self.check_store(store_id)
        self.check_week(week)
        lags, sources = {}, set()
        for lag in LAGS:
            lags[lag], source = self._sales_at(store, week - timedelta(weeks=lag))
            sources.add(source)
        row = feature_row(store_mean=store.store_mean, week=week, holiday=holiday, temperature=temperature,
                          fuel_price=fuel_price, cpi=cpi, unemployment=unemployment, lags=lags)
        rf = self.random_forest.run_row(row)[0]   # the row as float32, as feature_matrix makes it
        xgb = self.xgboost.run_row(row)[0]
        return {"prediction": (rf + xgb) / 2, "components": {"random_forest": rf, "xgboost": xgb},
                "week_ending": week.isoformat(),
                "lags_from": "forecast" if "forecast" in sources else "history"}

    def forecast(self, store_id: int, steps: int) -> list[dict[str, Any]]:
        store = self.check_store(store_id, "store_id")
        if not 1 <= steps <= self.horizon:
            raise OutOfRange("steps", f"must be 1..{self.horizon} (the weeks ahead the model was backtested on)")
        return [{"Date": self.future_weeks[i].isoformat(), "Sales": float(store.forecast_mean[i]),
                 "lower": float(store.forecast_lower[i]), "upper": float(store.forecast_upper[i])}
                for i in range(steps)]

    def history(self, store_id: int, weeks: int) -> list[dict[str, Any]]:
        store = self.check_store(store_id, "store_id")
        start = max(0, len(self.dates) - weeks)
        return [{"Date": self.dates[i].isoformat(), "Sales": float(store.sales[i])}
                for i in range(start, len(self.dates))]


def load(directory: Path, manifest: dict[str, Any]) -> SalesModel:
    return SalesModel(directory, manifest)
