"""HTTP routes of the powerball service."""
from __future__ import annotations

from flask import Flask, request

from services.common.api import Api, current_model, invalid
from services.common.app import create_service_app
from services.common.config import Settings

from . import model as powerball_model
from .schemas import (DrawsQuery, DrawsResponse, PredictQuery, PredictRequest, PredictResponse, StatsQuery,
                      StatsResponse)


def build_api() -> Api:
    api = Api("powerball", description=(
        "Valid Powerball tickets sampled from an XGBoost-per-position model's probabilities, number statistics "
        "for the current matrix, and the model's measured edge over random picks (or its absence)."))

    @api.route("/predict", methods=("GET", "POST"), query=PredictQuery, body=PredictRequest,
               response=PredictResponse,
               summary="Tickets sampled from the model's probabilities (GET: query string; POST: JSON body)")
    def predict(query: PredictQuery, body: PredictRequest | None = None):
        if request.method == "POST" and request.args:
            name = next(iter(request.args))
            raise invalid(name, "for POST send count and seed in the JSON body, not the query string")
        params = body if body is not None else query
        loaded = current_model()
        tickets, seed = loaded.model.tickets(params.count, params.seed)
        return PredictResponse(tickets=tickets, method=loaded.model.method, evaluation=loaded.model.evaluation,
                               edge_detected=loaded.model.edge_detected, seed=seed, model_version=loaded.version)

    @api.route("/stats", query=StatsQuery, response=StatsResponse,
               summary="Frequencies per number in the current era, hot and cold numbers, chi-square uniformity test")
    def stats(query: StatsQuery):
        loaded = current_model()
        return StatsResponse(model_version=loaded.version, **loaded.model.statistics(query.window))

    @api.route("/draws", query=DrawsQuery, response=DrawsResponse, summary="The most recent draws, newest first")
    def draws(query: DrawsQuery):
        loaded = current_model()
        return DrawsResponse(draws=loaded.model.recent_draws(query.limit), total_draws=len(loaded.model.draws),
                             model_version=loaded.version)

    return api


def create_app(settings: Settings | None = None, **kwargs) -> Flask:
    return create_service_app(build_api(), powerball_model.load, settings, **kwargs)
