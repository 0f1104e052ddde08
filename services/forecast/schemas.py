"""Request and response schemas of the forecast API (validated here, published in openapi.json)."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, PlainValidator, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from services.common.api import QueryModel, RequestModel
from services.common.fields import Text, date_field

from .features import accepted_stages, canonical_stage, kickoff_hour

def _stage(value: str) -> str:
    stage = canonical_stage(value)
    if stage is None:
        raise PydanticCustomError("stage", "unknown stage; accepted: {accepted} (or common spellings)",
                                  {"accepted": ", ".join(accepted_stages())})
    return stage


def _kickoff(value: Any) -> float:
    hour = kickoff_hour(value) if type(value) is str and len(value) <= 20 else None
    if hour is None:
        raise PydanticCustomError("kickoff", "must be 'HH:MM' (00:00..23:59) or one of Afternoon, Evening, Night")
    return hour


Stage = Annotated[str, AfterValidator(_stage)]
"""A stage as people write it; the view gets the data's name for it ('semis' -> 'Semi-Finals')."""
Kickoff = Annotated[float, PlainValidator(_kickoff), WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 20})]
"""'HH:MM' or a part of the day; the view gets the local kickoff hour as a float."""
MatchDay = date_field(earliest=date(1900, 1, 1), latest=date(2100, 12, 31))


class PredictRequest(RequestModel):
    team_a: Text = Field(min_length=1, max_length=80, examples=["Morocco"])
    team_b: Text = Field(min_length=1, max_length=80, examples=["France"])
    stadium: Text = Field(min_length=1, max_length=120, description="a stadium name, a common alias or a city",
                          examples=["Grand Stade de Marrakech"])
    time: Kickoff = Field(description="kickoff 'HH:MM' (local) or 'Afternoon', 'Evening', 'Night'",
                          examples=["Night"])
    stage: Stage = Field(min_length=1, max_length=40, description="'Group Stage', 'Round of 16', 'Quarter-Finals', "
                         "'Third Place', 'Semi-Finals', 'Final' (common spellings accepted)", examples=["Semi-Final"])
    date: MatchDay | None = Field(None, description="match day, YYYY-MM-DD (optional)", examples=["2026-01-14"])

    @field_validator("team_a", "team_b", "stadium")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class PredictResponse(BaseModel):
    predicted_attendance: int
    confidence_interval: list[int] = Field(description="[lower, upper] spectators, within [0, capacity]")
    stadium_capacity: int
    fill_rate: float = Field(description="predicted_attendance / stadium_capacity, 0..1")
    interval_level: float
    model_version: str
    warnings: list[str]
    stadium: str = Field(description="the stadium the request resolved to")
    stage: str = Field(description="the stage the request resolved to")
    kickoff_hour: float
    model: str = Field(description="the model served for the stadium's competition (a baseline where no "
                                   "candidate beat it on validation)")
    competition: str = Field(description="afcon or world_cup: each has its own model and interval")
    tournament: str = Field(description="the tournament the match is forecast as a further match of")
    match_day: str = Field(description="the match day used (the request's date, else the day after the last "
                                       "matchday in the data)")


class Stadium(BaseModel):
    name: str
    city: str
    capacity: int
    capacity_source: str
    hosts: list[str]
    last_tournament: str
    matches: int


class StadiumsResponse(BaseModel):
    stadiums: list[Stadium]
    aliases: dict[str, str] = Field(description="normalised common name -> stadium")
    model_version: str


class Team(BaseModel):
    name: str
    past_fill_rate: float
    points_per_match: float
    matches: int


class TeamsResponse(BaseModel):
    teams: list[Team]
    neutral: Team = Field(description="what an unknown team is given")
    model_version: str


class MatchesQuery(QueryModel):
    stadium: Text = Field(min_length=1, max_length=120, description="a stadium name, a common alias or a city")
    team_a: Text | None = Field(None, max_length=80, description="optional: also the matches of this team")
    team_b: Text | None = Field(None, max_length=80, description="optional: also the matches of this team")
    stage: Stage | None = Field(None, max_length=40, description="optional: also the matches of this stage in the "
                                                                "stadium's latest tournament")
    limit: int = Field(20, ge=1, le=100, description="most recent matches to return, 1..100")


class PastMatch(BaseModel):
    tournament: str
    day: str = Field(description="match day, YYYY-MM-DD (local)")
    stage: str
    stadium: str
    team_a: str
    team_b: str
    goals_a: int
    goals_b: int
    attendance: int = Field(description="the real crowd, from the data the model was trained on")
    capacity: int
    fill_rate: float
    why: list[str] = Field(description="why it is comparable: 'stadium', 'team_a', 'team_b', 'stage'")


class MatchesResponse(BaseModel):
    stadium: str = Field(description="the stadium the request resolved to")
    capacity: int
    competition: str
    tournament: str = Field(description="the stadium's latest tournament")
    teams: dict[str, str] = Field(description="the teams the request resolved to (an unknown team matches nothing)")
    stage: str | None
    total: int = Field(description="comparable matches in the data (the newest `limit` are returned)")
    matches: list[PastMatch] = Field(description="newest first, all within the stadium's competition")
    model_version: str
