"""HTTP routes of the forecast service."""
from __future__ import annotations

from flask import Flask

from services.common.api import Api, ApiError, current_model
from services.common.app import create_service_app
from services.common.config import Settings

from . import model as forecast_model
from .schemas import (MatchesQuery, MatchesResponse, PredictRequest, PredictResponse, StadiumsResponse,
                      TeamsResponse)


def build_api() -> Api:
    api = Api("forecast", description="Expected match attendance with a calibrated interval and the fill rate "
                                       "(AFCON 2025 venues in Morocco and World Cup stadiums 1930-2014).")

    @api.route("/predict", methods=("POST",), body=PredictRequest, response=PredictResponse,
               summary="Predict one match's attendance, its interval and the stadium's fill rate")
    def predict(body: PredictRequest):
        loaded = current_model()
        result = loaded.model.predict(team_a=body.team_a, team_b=body.team_b, stadium=body.stadium,
                                      hour=body.time, stage=body.stage, day=body.date)
        return PredictResponse(model_version=loaded.version, **result)

    @api.route("/stadiums", response=StadiumsResponse, summary="Known stadiums, capacities and accepted aliases")
    def stadiums():
        loaded = current_model()
        m = loaded.model
        rows = [{"name": name, **{k: entry[k] for k in ("city", "capacity_source", "hosts", "last_tournament",
                                                       "matches")}, "capacity": int(entry["capacity"])}
                for name, entry in m.stadiums.items()]
        return StadiumsResponse(stadiums=rows, aliases=m.stadium_aliases, model_version=loaded.version)

    @api.route("/teams", response=TeamsResponse, summary="Known teams and what the data says about them")
    def teams():
        loaded = current_model()
        summary = loaded.model.team_summary
        rows = [{"name": name, **stats} for name, stats in summary.items()]
        n = sum(r["matches"] for r in rows) or 1
        neutral = {"name": "(unknown team)", "matches": 0,
                   "past_fill_rate": round(sum(r["past_fill_rate"] * r["matches"] for r in rows) / n, 4),
                   "points_per_match": round(sum(r["points_per_match"] * r["matches"] for r in rows) / n, 4)}
        return TeamsResponse(teams=rows, neutral=neutral, model_version=loaded.version)

    @api.route("/matches", query=MatchesQuery, response=MatchesResponse, extra_statuses=(404,),
               summary="Real crowds of past matches comparable to a forecast: at the stadium, of the teams, "
                       "of the stage")
    def matches(query: MatchesQuery):
        loaded = current_model()
        result = loaded.model.comparable(stadium=query.stadium, team_a=query.team_a, team_b=query.team_b,
                                         stage=query.stage, limit=query.limit)
        if result is None:
            raise ApiError(404, "not_found", f"model version {loaded.version} carries no match table (trained "
                                             "before GET /matches existed); retrain: python -m services.forecast.train")
        return MatchesResponse(model_version=loaded.version, **result)

    return api


def create_app(settings: Settings | None = None, **kwargs) -> Flask:
    return create_service_app(build_api(), forecast_model.load, settings, **kwargs)
