"""Request and response schemas of the powerball service (validation and OpenAPI in one place)."""
from __future__ import annotations

from pydantic import BaseModel, Field

from services.common.api import QueryModel, RequestModel

MAX_TICKETS = 10
MAX_SEED = 2**32 - 1
MAX_DRAWS = 500
MIN_WINDOW, MAX_WINDOW = 10, 500

COUNT_DOC = f"tickets to generate, 1..{MAX_TICKETS}"
SEED_DOC = (f"random seed, 0..{MAX_SEED}: the same seed and model version give the same tickets; "
            "omitted: a random seed, returned in the response")


class PredictQuery(QueryModel):
    count: int = Field(1, ge=1, le=MAX_TICKETS, description=COUNT_DOC)
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description=SEED_DOC)


class PredictRequest(RequestModel):
    count: int = Field(1, ge=1, le=MAX_TICKETS, description=COUNT_DOC)
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description=SEED_DOC)


class Ticket(BaseModel):
    white_balls: list[int] = Field(description="5 distinct numbers, ascending, in 1..69")
    powerball: int = Field(description="1..26")


class PredictResponse(BaseModel):
    tickets: list[Ticket]
    method: str = Field(description="how the tickets were made")
    evaluation: str = Field(description="the model's measured edge over random picks, in plain words")
    edge_detected: bool = Field(description="whether the held-out test found an edge at the 5% level")
    seed: int = Field(description="the seed used; send it again for the same tickets")
    model_version: str


class DrawsQuery(QueryModel):
    limit: int = Field(10, ge=1, le=MAX_DRAWS, description=f"most recent draws to return, 1..{MAX_DRAWS}")


class DrawOut(BaseModel):
    date: str
    white_balls: list[int]
    powerball: int
    multiplier: int | None = Field(description="Power Play multiplier; missing in the source for 2012-2014")
    era: str


class DrawsResponse(BaseModel):
    draws: list[DrawOut] = Field(description="newest first")
    total_draws: int
    model_version: str


class StatsQuery(QueryModel):
    window: int = Field(50, ge=MIN_WINDOW, le=MAX_WINDOW,
                        description=f"latest draws for hot and cold numbers, {MIN_WINDOW}..{MAX_WINDOW}")


class EraOut(BaseModel):
    name: str
    rules_effective: str
    first_draw: str
    white_max: int
    powerball_max: int
    source: str


class Frequency(BaseModel):
    number: int
    count: int
    share: float = Field(description="appearances per draw in the era")
    draws_since_seen: int


class NumberCount(BaseModel):
    number: int
    count: int


class Uniformity(BaseModel):
    test: str
    statistic: float
    pearson_statistic: float
    df: int
    p_value: float
    draws: int
    expected_per_number: float
    statement: str


class PoolStats(BaseModel):
    frequencies: list[Frequency]
    hot: list[NumberCount] = Field(description="most frequent over the window")
    cold: list[NumberCount] = Field(description="least frequent over the window")
    window_expected_per_number: float
    uniformity: Uniformity


class StatsResponse(BaseModel):
    era: EraOut
    eras: list[EraOut]
    draws: int
    first_draw: str
    last_draw: str
    window: int
    white_balls: PoolStats
    powerball: PoolStats
    note: str
    model_version: str
