"""Request and response schemas of the flow API (validated here, published in openapi.json)."""
from __future__ import annotations

from datetime import datetime
from typing import Union

from pydantic import BaseModel, Field, RootModel, field_validator

from services.common.api import QueryModel, RequestModel

from .config import MAX_BATCH


def parse_ts(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("must be an ISO 8601 time with a timezone, e.g. 2025-12-21T18:00:00Z") from None
    if parsed.tzinfo is None:
        raise ValueError("must carry a timezone (Z or +01:00), e.g. 2025-12-21T18:00:00Z")
    return parsed


class Reading(RequestModel):
    """One turnstile reading: one gate, one minute."""

    stadiumId: str = Field(min_length=2, max_length=40, description="see GET /api/flow/stadiums",
                           examples=["RABAT"])
    gateId: str = Field(pattern=r"^G[0-9]{1,3}$", description="G1..Gn of the stadium", examples=["G3"])
    ts: str = Field(max_length=40, description="end of the minute the reading covers, ISO 8601 with timezone",
                    examples=["2025-12-21T18:00:00Z"])
    perMinuteCount: int = Field(ge=0, le=10_000, description="fans through the turnstiles in the minute")
    avgProcessingTime: float = Field(ge=0, le=600, description="mean seconds per fan at a turnstile")
    queueLength: int = Field(ge=0, le=100_000, description="fans queuing at the end of the minute")
    openLanes: int | None = Field(None, ge=0, le=200,
                                  description="open lanes; default: the gate's configured lanes")

    @field_validator("ts")
    @classmethod
    def _ts(cls, value: str) -> str:
        parse_ts(value)
        return value


class ReadingBatch(RequestModel):
    readings: list[Reading] = Field(min_length=1, max_length=MAX_BATCH,
                                    description=f"1..{MAX_BATCH} readings; one bad reading rejects the batch")


class IngestRequest(RootModel[Union[Reading, ReadingBatch]]):
    """One reading, or {"readings": [...]}."""


class IngestResponse(BaseModel):
    accepted: int = Field(description="readings stored by this request")
    duplicates: int = Field(description="readings already stored (same stadiumId, gateId, ts); ignored")


class StatusQuery(QueryModel):
    stadiumId: str = Field(min_length=1, max_length=40, description="see GET /api/flow/stadiums")


class Redirect(BaseModel):
    gateId: str
    wait: float
    walk_minutes: float
    saving_minutes: float


class GateStatus(BaseModel):
    gateId: str
    wait: float | None = Field(description="predicted wait in minutes for a fan joining now")
    state: str = Field(description="green (< 5 min), yellow (5-10), red (> 10), unknown (no reading yet)")
    anomaly: bool
    anomalyScore: float | None
    last_updated: str | None
    stale: bool
    queueLength: int | None
    openLanes: int | None
    perMinuteCount: int | None
    littles_law_wait: float | None = Field(description="queue x processing time / open lanes, for comparison")
    redirect: Redirect | None = None


class StatusResponse(BaseModel):
    stadiumId: str
    generated_at: str
    model_version: str
    gates: list[GateStatus]


class GateInfo(BaseModel):
    id: str
    lanes: int


class StadiumInfo(BaseModel):
    id: str
    name: str
    city: str
    capacity: int
    gates: list[GateInfo]
    walk_minutes: list[list[float]]


class StadiumsResponse(BaseModel):
    stadiums: list[StadiumInfo]
