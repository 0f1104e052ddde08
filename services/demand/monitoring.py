"""What the demand service monitors: the store, product, price and promotion of /predict and
/price-curve requests, and weekly units as actuals.

An actual is one data-set row: the /predict inputs of a store, product and week plus the units sold.
It is scored for the served model (the call /predict makes) and, beside it, for the manifest's
baseline on the same row from the parameters the artifact carries for it (`baselines`), as training
computes it: promo_adjusted_mean is the pair's unpromoted level plus the lift of the row's promotion
cell (features.promo_log1p), pooled_elasticity that plus its one elasticity times the log price
ratio. The levels are the baselines' own, not the served curve's (a joint curve's are netted).
"""
from __future__ import annotations

from datetime import date

import numpy as np
from pydantic import Field

from services.common.api import ApiError
from services.common.drift import CATEGORY, NUMBER, Feature
from services.common.monitoring import BaselineUnavailable, Monitoring, absolute_error

from .api import promotion_of
from .features import cell, levels, pair_key, promo_log1p, week_ending
from .model import derived_tpr
from .schemas import PredictRequest

FEATURES = [
    Feature("store_id", CATEGORY), Feature("product_id", CATEGORY), Feature("price", NUMBER),
    Feature("base_price", NUMBER), Feature("display", CATEGORY), Feature("feature", CATEGORY),
    Feature("tpr", CATEGORY),
]


class DemandActual(PredictRequest):
    units: float = Field(ge=0, le=1_000_000, description="units sold in the week")


def _predict_row(objects, model):
    body = objects["body"]
    row = {"store_id": body.store_id, "product_id": body.product_id, "price": body.price}
    base = body.base_price
    if base is None and body.product_id in model.products:
        base = model.usual_price(body.product_id)
    row["base_price"] = base
    try:
        promo = promotion_of(body)
    except ApiError:          # refused with a 400 naming the fields: its flags are not counted
        return [row]
    tpr = promo.tpr if promo.tpr is not None or base is None else \
        int(derived_tpr(np.array([body.price]), base, promo.display, promo.feature)[0])
    return [row | {"display": promo.display, "feature": promo.feature, "tpr": tpr}]


def _curve_row(objects, model):
    body = objects["body"]
    return [{"store_id": body.store_id, "product_id": body.product_id}]


def baseline_units(model, name: str, store_id: str, product_id: str, display: int, feature: int, tpr: int,
                   price: float | None = None) -> float:
    own = model.baselines or {}
    # the baselines' levels (from unpromoted weeks); an artifact from before they were shipped has only
    # the served ones, which were the same then (no joint curve)
    base = levels(own.get("encodings", model.encodings), store_id, product_id)["pair_base"]
    pooled = own.get("pooled_elasticity")
    if name == "pooled_elasticity" and pooled and price is not None:
        log1p = promo_log1p(pooled["lift"], base, cell(display, feature, tpr)) + \
            pooled["elasticity"] * np.log(price / model.usual_price(product_id))
        return float(max(np.expm1(log1p)[()], 0.0))
    promo_lift = own.get("promo_adjusted_mean", {}).get("lift") or (model.lift if model.kind in ("blend", "promo_adjusted_mean") else None)
    if name == "promo_adjusted_mean" and promo_lift:
        return float(max(np.expm1(promo_log1p(promo_lift, base, cell(display, feature, tpr)))[()], 0.0))
    if name == "store_product_mean" and model.means:
        return float(model.means.get(pair_key(store_id, product_id), model.global_mean))
    raise BaselineUnavailable(f"the served artifact ({model.kind}) does not carry what the baseline {name} needs")


def score(actual: DemandActual, loaded):
    model = loaded.model
    promo = promotion_of(actual)
    result = model.predict(actual.store_id, actual.product_id, actual.date, actual.price, actual.base_price, promo)
    name = loaded.manifest.get("metrics", {}).get("summary", {}).get("baseline", "promo_adjusted_mean")
    baseline = baseline_units(model, name, actual.store_id, actual.product_id, result["display"],
                              result["feature"], result["tpr"], price=actual.price)
    week = week_ending(actual.date)
    return absolute_error(week.isoformat(), actual.units, result["prediction"], baseline,
                          in_training=week <= date.fromisoformat(model.catalog["last_week"]),
                          display=result["display"], feature=result["feature"], tpr=result["tpr"])


def monitoring() -> Monitoring:
    return Monitoring(
        features=FEATURES, observe={"predict": _predict_row, "price_curve": _curve_row},
        actual=DemandActual, score=score, metric="MAE",
        key=lambda a: {"date": week_ending(a.date).isoformat(), "store_id": a.store_id,
                       "product_id": a.product_id},
        actuals_note="an actual is a store x product x week as /predict takes it plus the units sold; key (date as the "
                     "Wednesday ending its week, store_id, product_id); scored for the served model beside the manifest's baseline")
