"""Sales inference: ONNX RandomForest + XGBoost averaged, and per-store ARIMA forecasts.

Loaded from a verified version folder; imports no training library and unpickles nothing.
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
from .features import LAGS, feature_matrix, feature_row

MAX_WEEKS_AHEAD = arima.SEASON


class OutOfRange(InputError):
    """A request the model cannot answer, with the field to blame (answered as a 400)."""


@dataclass
class StoreHistory:
    store_mean: float
    sales: np.ndarray
    holidays: np.ndarray
    forecast_mean: np.ndarray
    forecast_lower: np.ndarray
    forecast_upper: np.ndarray


class SalesModel:
    def __init__(self, directory: Path, manifest: dict[str, Any]):
        self.version = manifest["version"]
        self.random_forest = OnnxModel(directory / "random_forest.onnx")
        self.xgboost = OnnxModel(directory / "xgboost.onnx")
        history = json.loads((directory / "history.json").read_text())
        params = json.loads((directory / "arima.json").read_text())
        self.interval_level = float(history["interval_level"])
        self.dates = [date.fromisoformat(d) for d in history["dates"]]
        self.first_week, self.last_week = self.dates[0], self.dates[-1]
        self._index = {d: i for i, d in enumerate(self.dates)}
        future = [self.last_week + timedelta(weeks=k) for k in range(1, MAX_WEEKS_AHEAD + 1)]
        self.future_weeks = future
        future_holidays = np.array([1.0 if is_holiday_week(d) else 0.0 for d in future])
        self.stores: dict[int, StoreHistory] = {}
        for key, entry in history["stores"].items():
            sales = np.asarray(entry["sales"], dtype=float)
            holidays = np.asarray(entry["holidays"], dtype=float)
            if len(sales) != len(self.dates):
                raise ValueError(f"store {key}: {len(sales)} sales for {len(self.dates)} weeks")
            mean, lower, upper = arima.forecast(params["params"][key], sales, holidays, future_holidays,
                                                self.interval_level)
            if not np.all(np.isfinite(mean)):
                raise ValueError(f"store {key}: ARIMA parameters give non-finite forecasts")
            self.stores[int(key)] = StoreHistory(float(entry["store_mean"]), sales, holidays, mean, lower, upper)
        self.store_ids = sorted(self.stores)

    # ------------------------------------------------------------------
    def _sales_at(self, store: StoreHistory, week: date) -> tuple[float, str]:
        if week in self._index:
            return float(store.sales[self._index[week]]), "history"
        ahead = (week - self.last_week).days // 7
        return float(store.forecast_mean[ahead - 1]), "forecast"

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
        rows = feature_matrix([feature_row(store_mean=store.store_mean, week=week, holiday=holiday,
                                           temperature=temperature, fuel_price=fuel_price, cpi=cpi,
                                           unemployment=unemployment, lags=lags)])
        rf = float(self.random_forest.run(rows).ravel()[0])
        xgb = float(self.xgboost.run(rows).ravel()[0])
        return {"prediction": (rf + xgb) / 2, "components": {"random_forest": rf, "xgboost": xgb},
                "week_ending": week.isoformat(),
                "lags_from": "forecast" if "forecast" in sources else "history"}

    def forecast(self, store_id: int, steps: int) -> list[dict[str, Any]]:
        store = self.check_store(store_id, "store_id")
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
