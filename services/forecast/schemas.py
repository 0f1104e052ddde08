"""Request and response schemas of the forecast API (validated here, published in openapi.json)."""
from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field, field_validator

from services.common.api import RequestModel

from .features import accepted_stages, canonical_stage, kickoff_hour


class PredictRequest(RequestModel):
    team_a: str = Field(min_length=1, max_length=80, examples=["Morocco"])
    team_b: str = Field(min_length=1, max_length=80, examples=["France"])
    stadium: str = Field(min_length=1, max_length=120, description="a stadium name, a common alias or a city",
                         examples=["Grand Stade de Marrakech"])
    time: str = Field(min_length=1, max_length=20, description="kickoff 'HH:MM' (local) or 'Afternoon', "
                      "'Evening', 'Night'", examples=["Night"])
    stage: str = Field(min_length=1, max_length=40, description="'Group Stage', 'Round of 16', 'Quarter-Finals', "
                       "'Third Place', 'Semi-Finals', 'Final' (common spellings accepted)", examples=["Semi-Final"])
    date: str | None = Field(None, description="match day, YYYY-MM-DD (optional)", examples=["2026-01-14"])

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        if kickoff_hour(value) is None:
            raise ValueError("must be 'HH:MM' (00:00..23:59) or one of Afternoon, Evening, Night")
        return value

    @field_validator("stage")
    @classmethod
    def _stage(cls, value: str) -> str:
        if canonical_stage(value) is None:
            raise ValueError(f"unknown stage; accepted: {', '.join(accepted_stages())} (or common spellings)")
        return value

    @field_validator("date")
    @classmethod
    def _date(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a date as YYYY-MM-DD") from None
        if len(value) != 10 or not 1900 <= parsed.year <= 2100:
            raise ValueError("must be a date as YYYY-MM-DD between 1900 and 2100")
        return value

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
    model: str


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
