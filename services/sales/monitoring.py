"""What the sales service monitors: the inputs of /predict and /forecast, and weekly sales as actuals.

An actual is one data-set row: the /predict inputs of a store and week plus the week's Weekly_Sales.
It is scored for the served /predict ensemble (the same call /predict makes) and, beside it, for the
baseline the manifest's `summary_predict` names, computed from the history the artifact ships as
training's /predict evaluation computes it: from the week before (one week ahead) inside the
history, from its end past it. Holiday weeks weigh HOLIDAY_WEIGHT, as in training's WMAE.
"""
from __future__ import annotations

from datetime import date

from pydantic import Field

from services.common.drift import CATEGORY, NUMBER, Feature
from services.common.monitoring import Monitoring, absolute_error

from .calendar import week_ending
from .features import LEVEL_WINDOW, SEASON
from .model import OutOfRange
from .schemas import PredictRequest

FEATURES = [
    Feature("Store", CATEGORY), Feature("Holiday_Flag", CATEGORY), Feature("Temperature", NUMBER),
    Feature("Fuel_Price", NUMBER), Feature("CPI", NUMBER), Feature("Unemployment", NUMBER),
]
INPUTS = [f.name for f in FEATURES]
HOLIDAY_WEIGHT = 5   # training's (services/sales/train.py; a test keeps them equal)
BASELINES = ("seasonal_naive", "level_adjusted_seasonal_naive", "last_value")


class SalesActual(PredictRequest):
    Weekly_Sales: float = Field(gt=0, le=1e9, description="the week's observed sales, USD")


def _predict_row(objects, model):
    body = objects["body"]
    return [{name: getattr(body, name) for name in INPUTS}]


def _forecast_row(objects, model):
    return [{"Store": objects["body"].store_id}]


def baseline_prediction(model, store_id: int, week: date, name: str) -> tuple[float, int]:
    """The named baseline for one store-week from the shipped history, made at the origin the /predict
    evaluation uses (the week before, or the end of the history for later weeks); with the weeks ahead."""
    if name not in BASELINES:
        raise ValueError(f"the manifest's baseline {name!r} has no serving form here (known: {', '.join(BASELINES)})")
    y = model.check_store(store_id).sales
    n = len(model.dates)
    origin = min(model.dates.index(week) - 1 if week in model.dates else n - 1, n - 1)
    ahead = (week - model.dates[origin]).days // 7
    if origin - LEVEL_WINDOW - SEASON + 1 < 0 or not 1 <= ahead <= SEASON:
        raise OutOfRange("Date", f"the baseline needs {SEASON + LEVEL_WINDOW} weeks of history before the week "
                                 f"and at most {SEASON} weeks after its end")
    if name == "last_value":
        return float(y[origin]), ahead
    ref = float(y[origin + ahead - SEASON])
    if name == "seasonal_naive":
        return ref, ahead
    level = y[origin - LEVEL_WINDOW + 1:origin + 1].mean() / y[origin - LEVEL_WINDOW + 1 - SEASON:origin + 1 - SEASON].mean()
    return float(ref * level), ahead


def score(actual: SalesActual, loaded):
    model, manifest = loaded.model, loaded.manifest
    week = week_ending(actual.Date)
    result = model.predict(actual.Store, week, holiday=actual.Holiday_Flag, temperature=actual.Temperature,
                           fuel_price=actual.Fuel_Price, cpi=actual.CPI, unemployment=actual.Unemployment)
    name = manifest.get("metrics", {}).get("summary_predict", {}).get("baseline", "level_adjusted_seasonal_naive")
    baseline, ahead = baseline_prediction(model, actual.Store, week, name)
    weight = float(HOLIDAY_WEIGHT) if actual.Holiday_Flag else 1.0
    detail = {"lags_from": result["lags_from"], "baseline_weeks_ahead": int(ahead)}
    after = (week - model.last_week).days // 7
    if 1 <= after <= model.horizon:  # what /forecast said for this week, for reference
        detail["forecast_prediction"] = float(model.check_store(actual.Store).forecast_mean[after - 1])
    return absolute_error(week.isoformat(), actual.Weekly_Sales, result["prediction"], baseline, weight=weight,
                          in_training=week <= model.last_week, **detail)


def monitoring() -> Monitoring:
    return Monitoring(
        features=FEATURES, observe={"predict": _predict_row, "forecast": _forecast_row},
        actual=SalesActual, key=lambda a: {"Store": a.Store, "Date": week_ending(a.Date).isoformat()},
        score=score, metric="WMAE", summary="summary_predict",
        actuals_note="an actual is a store-week as /predict takes it plus its Weekly_Sales; key (Store, Date as the "
                     "Friday ending its week); "
                     f"scored for the /predict ensemble beside summary_predict's baseline; holiday weeks weigh "
                     f"{HOLIDAY_WEIGHT} in the WMAE, as in training")
