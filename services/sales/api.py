"""HTTP routes of the sales service."""
from __future__ import annotations

from flask import Flask

from services.common.api import Api, current_model
from services.common.app import create_service_app
from services.common.config import Settings

from . import model as sales_model
from .calendar import week_ending
from .schemas import (ForecastRequest, ForecastResponse, HistoryQuery, HistoryResponse, PredictRequest,
                      PredictResponse, StoresResponse)


def build_api() -> Api:
    api = Api("sales", description="Weekly Walmart store sales: one week's prediction (RandomForest + XGBoost "
                                   "averaged) and a 1..13-week forecast per store from the model chosen on "
                                   "rolling-origin validation, with a conformal 90% interval.")

    @api.route("/predict", methods=("POST",), body=PredictRequest, response=PredictResponse,
               summary="Predict one store's sales for the week containing Date")
    def predict(body: PredictRequest):
        loaded = current_model()
        week = week_ending(body.Date)
        result = loaded.model.predict(
            body.Store, week, holiday=body.Holiday_Flag, temperature=body.Temperature,
            fuel_price=body.Fuel_Price, cpi=body.CPI, unemployment=body.Unemployment)
        return PredictResponse(model_version=loaded.version, **result)

    @api.route("/forecast", methods=("POST",), body=ForecastRequest, response=ForecastResponse,
               summary="Forecast the weeks after the history for one store, with an interval")
    def forecast(body: ForecastRequest):
        loaded = current_model()
        points = loaded.model.forecast(body.store_id, body.steps)
        return ForecastResponse(store_id=body.store_id, model_version=loaded.version,
                                model=loaded.model.forecast_model, interval_level=loaded.model.interval_level,
                                interval=loaded.model.interval_method, forecast=points)

    @api.route("/history", query=HistoryQuery, response=HistoryResponse,
               summary="The latest weeks of a store's actual sales")
    def history(query: HistoryQuery):
        loaded = current_model()
        rows = loaded.model.history(query.store_id, query.weeks)
        return HistoryResponse(store_id=query.store_id, model_version=loaded.version, history=rows)

    @api.route("/stores", response=StoresResponse, summary="Known stores and the weeks the history covers")
    def stores():
        loaded = current_model()
        m = loaded.model
        return StoresResponse(stores=m.store_ids, first_week=m.first_week.isoformat(),
                              last_week=m.last_week.isoformat(), model_version=loaded.version)

    return api


def create_app(settings: Settings | None = None, **kwargs) -> Flask:
    return create_service_app(build_api(), sales_model.load, settings, **kwargs)
