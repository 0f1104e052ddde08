"""What the forecast service monitors: the stadium, teams, stage and kickoff hour of /predict requests,
and match attendances as actuals.

An actual is a match as /predict takes it (with its date) plus the attendance. It is scored for the
served model of its competition (the call /predict makes) and, beside it, for that competition's
strongest baseline on the test matchdays (manifest `verdicts`), capacity x its fill column from the
same feature function. The service forecasts further matches of a stadium's latest tournament, so an
actual must be a match after the last matchday in the data: none of them was seen in training.
"""
from __future__ import annotations

from pydantic import Field

from services.common.drift import CATEGORY, NUMBER, Feature
from services.common.errors import InputError
from services.common.monitoring import Monitoring, absolute_error

from .features import normalize
from .schemas import MatchDay, PredictRequest

FEATURES = [
    Feature("stadium", CATEGORY), Feature("team", CATEGORY, columns=("team_a", "team_b")),
    Feature("stage", CATEGORY), Feature("hour", NUMBER, description="local kickoff hour"),
]
# The baselines' fill columns (training's ColumnBaseline, services/forecast/train.py; a test keeps them equal).
BASELINE_COLUMNS = {"tournament_fill_so_far": "tournament_fill", "venue_fill_so_far": "venue_fill",
                    "team_fill_so_far": "team_fill_high"}


class MatchActual(PredictRequest):
    date: MatchDay = Field(description="the match day, YYYY-MM-DD", examples=["2026-01-14"])
    attendance: int = Field(ge=0, le=250_000, description="spectators counted")


def _stadium(model, text: str) -> str:
    try:
        return model.resolve_stadium(text)[0]
    except InputError:
        return text          # counted as an unknown stadium


def _predict_row(objects, model):
    body = objects["body"]
    warnings: list[str] = []
    return [{"stadium": _stadium(model, body.stadium), "stage": body.stage, "hour": body.time,
             "team": [model.resolve_team(body.team_a, warnings), model.resolve_team(body.team_b, warnings)]}]


def score(actual: MatchActual, loaded):
    model, manifest = loaded.model, loaded.manifest
    result = model.predict(team_a=actual.team_a, team_b=actual.team_b, stadium=actual.stadium, hour=actual.time,
                           stage=actual.stage, day=actual.date)
    warnings: list[str] = []
    _, named, _ = model.features(tournament=result["tournament"], stadium=result["stadium"],
                                 team_a=model.resolve_team(actual.team_a, warnings),
                                 team_b=model.resolve_team(actual.team_b, warnings), stage=result["stage"],
                                 hour=actual.time, day=actual.date)
    competition = result["competition"]
    verdict = manifest.get("metrics", {}).get("verdicts", {}).get(competition, {})
    name = verdict.get("strongest_baseline_on_test") or manifest["metrics"]["summary"]["baseline"]
    capacity = float(result["stadium_capacity"])
    baseline = min(max(float(named[BASELINE_COLUMNS[name]]), 0.0), 1.0) * capacity
    return absolute_error(actual.date.isoformat(), actual.attendance, result["predicted_attendance"], baseline,
                          in_training=False, competition=competition, tournament=result["tournament"],
                          served_model=result["model"], baseline_name=name, stadium=result["stadium"])


def _key(actual: MatchActual) -> dict[str, str]:
    a, b = sorted((normalize(actual.team_a), normalize(actual.team_b)))
    return {"date": actual.date.isoformat(), "stadium": normalize(actual.stadium), "team_a": a, "team_b": b}


def monitoring() -> Monitoring:
    return Monitoring(
        features=FEATURES, observe={"predict": _predict_row}, actual=MatchActual, key=_key, score=score,
        metric="MAE",
        actuals_note="an actual is a match as /predict takes it, with its date, plus the attendance; key (date, "
                     "stadium, the two teams in either order); scored for its competition's served model beside that competition's "
                     "strongest baseline; only matches after the data's last matchday can be scored")
