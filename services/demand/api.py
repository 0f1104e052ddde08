"""HTTP routes of the demand service."""
from __future__ import annotations

from flask import Flask

from services.common.api import Api, ApiError, current_model, invalid
from services.common.app import create_service_app
from services.common.config import Settings

from . import model as demand_model
from .schemas import (CatalogResponse, HistoryQuery, HistoryResponse, PredictRequest, PredictResponse,
                      PriceCurveRequest, PriceCurveResponse)


def promotion_of(body: PredictRequest) -> demand_model.Promotion:
    """`promotion: true|false` (the seed's field) or the detailed display/feature/tpr flags, not both."""
    detailed = {k: getattr(body, k) for k in ("display", "feature", "tpr") if getattr(body, k) is not None}
    if body.promotion is not None and detailed:
        raise invalid("promotion", "send either promotion (true|false) or the detailed display/feature/tpr "
                                   f"flags, not both (got promotion and {', '.join(sorted(detailed))})")
    if body.promotion is not None:
        on = 1 if body.promotion else 0
        return demand_model.Promotion(display=on, feature=on, tpr=None)
    return demand_model.Promotion(display=detailed.get("display", 0), feature=detailed.get("feature", 0),
                                  tpr=detailed.get("tpr"))


def build_api() -> Api:
    api = Api("demand", description="Weekly units per store x product (dunnhumby frozen pizza) from date, price "
                                    "and promotion, served by the model chosen on validation windows (units never "
                                    "rise with the shelf price for fixed promotion flags); price curves with the "
                                    "revenue-maximising price.")

    @api.route("/predict", methods=("POST",), body=PredictRequest, response=PredictResponse,
               summary="Predict units sold for one store, product and week at a price and promotion")
    def predict(body: PredictRequest):
        loaded = current_model()
        promo = promotion_of(body)
        result = loaded.model.predict(body.store_id, body.product_id, body.date,
                                      body.price, body.base_price, promo)
        return PredictResponse(model_version=loaded.version, **result)

    @api.route("/price-curve", methods=("POST",), body=PriceCurveRequest, response=PriceCurveResponse,
               summary="Units and revenue over a price range, with and without promotion, and the "
                       "revenue-maximising price")
    def price_curve(body: PriceCurveRequest):
        loaded = current_model()
        result = loaded.model.price_curve(body.store_id, body.product_id, body.date,
                                          body.base_price, body.price_min, body.price_max, body.steps)
        return PriceCurveResponse(model_version=loaded.version, **result)

    @api.route("/catalog", response=CatalogResponse,
               summary="Known stores and products (with usual prices) and the weeks the data covers")
    def catalog():
        loaded = current_model()
        return CatalogResponse(model_version=loaded.version, **loaded.model.catalog_body())

    @api.route("/history", query=HistoryQuery, response=HistoryResponse, extra_statuses=(404,),
               summary="Actual weeks of a store x product and the test window's held-out predictions")
    def history(query: HistoryQuery):
        loaded = current_model()
        result = loaded.model.history(query.store_id, query.product_id, query.weeks)
        if result is None:
            raise ApiError(404, "not_found", f"model version {loaded.version} carries no history (trained before "
                                             "GET /history existed); retrain: python -m services.demand.train")
        return HistoryResponse(model_version=loaded.version, **result)

    return api


def create_app(settings: Settings | None = None, **kwargs) -> Flask:
    return create_service_app(build_api(), demand_model.load, settings, **kwargs)
