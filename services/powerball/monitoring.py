"""What the powerball service monitors: no request features (a ticket request carries only a count and
a seed, nothing that can drift), and actual draws as they happen.

A draw is scored by the log loss per ball of the served distribution (each white ball at its
inclusion weight / 5, the Powerball at its probability) beside uniform random picks, the manifest's
baseline: the live version of the offline `log_loss_per_ball`. The distributions are the ones served
for the next draw after the model's last; a draw on or before that date was in the training data.
"""
from __future__ import annotations

import math
from datetime import date

from pydantic import Field, field_validator

from services.common.api import RequestModel
from services.common.errors import InputError
from services.common.fields import date_field
from services.common.monitoring import Monitoring, Score

from .probability import WHITE_COUNT

DrawDay = date_field()


class DrawActual(RequestModel):
    date: DrawDay = Field(description="the draw's date, YYYY-MM-DD", examples=["2026-01-03"])
    white_balls: list[int] = Field(min_length=WHITE_COUNT, max_length=WHITE_COUNT,
                                   description="the 5 white balls drawn, distinct, 1..69 (any order)")
    powerball: int = Field(ge=1, le=26, description="the Powerball drawn, 1..26")

    @field_validator("white_balls")
    @classmethod
    def _distinct(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value) or not all(1 <= n <= 69 for n in value):
            raise ValueError("must be 5 distinct numbers in 1..69")
        return sorted(value)


def score(actual: DrawActual, loaded) -> Score:
    model = loaded.model
    era = model.era
    if actual.date < date.fromisoformat(model.first_draw):
        raise InputError("date", f"must be on or after {model.first_draw}, the first draw of the current era "
                                 f"({era.name}): the served probabilities are for its matrix")
    if max(actual.white_balls) > era.white_max or actual.powerball > era.powerball_max:
        raise InputError("white_balls", f"the current era draws white balls 1..{era.white_max} and a Powerball "
                                        f"1..{era.powerball_max}")
    white = [float(model.white_weights[n - 1]) / WHITE_COUNT for n in actual.white_balls]
    power = float(model.powerball_probs[actual.powerball - 1])
    served = [*white, power]
    chance = [1.0 / era.white_max] * WHITE_COUNT + [1.0 / era.powerball_max]
    balls = len(served)
    return Score(when=actual.date.isoformat(),
                 actual={"white_balls": actual.white_balls, "powerball": actual.powerball},
                 prediction=served, baseline_prediction=chance,
                 model_loss=sum(-math.log(p) for p in served) / balls,
                 baseline_loss=sum(-math.log(p) for p in chance) / balls, weight=float(balls),
                 in_training=actual.date.isoformat() <= model.last_draw,
                 detail={"probabilities": "per ball, the 5 white balls (ascending) then the Powerball"})


def monitoring() -> Monitoring:
    return Monitoring(
        observe={"predict": lambda objects, model: []},   # ticket requests are counted; they carry no feature
        actual=DrawActual, key=lambda a: {"date": a.date.isoformat()}, score=score, metric="log_loss_per_ball",
        actuals_note="an actual is a draw (date, 5 white balls, Powerball), key: its date; scored by the log loss "
                     "per ball of the served probabilities beside uniform random picks")
