"""Request and response schemas of the flow API (validated here, published in openapi.json)."""
from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BaseModel, Discriminator, Field, RootModel, Tag, ValidationInfo, field_validator

from services.common.api import QueryModel, RequestModel
from services.common.fields import Text, Timestamp

from .config import MAX_BATCH
from .stadiums import load_stadiums


class Reading(RequestModel):
    """One turnstile reading: one gate, one minute. Stadium, gate and lanes are checked against
    the stadium configuration here, so every bad reading of a batch is named in one answer."""

    stadiumId: str = Field(min_length=2, max_length=40, description="see GET /api/flow/stadiums",
                           examples=["RABAT"])
    gateId: str = Field(pattern=r"^G[0-9]{1,3}$", description="G1..Gn of the stadium", examples=["G3"])
    ts: Timestamp = Field(description="end of the minute the reading covers, ISO 8601 with timezone",
                          examples=["2025-12-21T18:00:00Z"])
    perMinuteCount: int = Field(ge=0, le=10_000, description="fans through the turnstiles in the minute")
    avgProcessingTime: float = Field(ge=0, le=600, description="mean seconds per fan at a turnstile")
    queueLength: int = Field(ge=0, le=100_000, description="fans queuing at the end of the minute")
    openLanes: int | None = Field(None, ge=0, le=200,
                                  description="open lanes; default: the gate's configured lanes")

    @field_validator("stadiumId")
    @classmethod
    def _stadium(cls, value: str) -> str:
        stadiums = load_stadiums()
        if value not in stadiums:
            raise ValueError(f"unknown stadium; known: {', '.join(stadiums)}")
        return value

    @field_validator("gateId")
    @classmethod
    def _gate(cls, value: str, info: ValidationInfo) -> str:
        stadium = load_stadiums().get(info.data.get("stadiumId", ""))
        if stadium is not None and stadium.gate(value) is None:
            raise ValueError(f"unknown gate of {stadium.id}; known: G1..G{len(stadium.gates)}")
        return value

    @field_validator("openLanes")
    @classmethod
    def _lanes(cls, value: int | None, info: ValidationInfo) -> int | None:
        stadium = load_stadiums().get(info.data.get("stadiumId", ""))
        gate = stadium.gate(info.data.get("gateId", "")) if stadium is not None else None
        if value is not None and gate is not None and value > gate.lanes:
            raise ValueError(f"{gate.id} has {gate.lanes} lanes")
        return value

    def lanes(self) -> int:
        """Open lanes, defaulting to the gate's configured lanes."""
        if self.openLanes is not None:
            return self.openLanes
        return load_stadiums()[self.stadiumId].gate(self.gateId).lanes


class ReadingBatch(RequestModel):
    readings: list[Reading] = Field(min_length=1, max_length=MAX_BATCH,
                                    description=f"1..{MAX_BATCH} readings; one bad reading rejects the batch")


def _shape(value: Any) -> str:
    return "batch" if isinstance(value, dict) and "readings" in value else "reading"


class IngestRequest(RootModel[Annotated[Union[Annotated[ReadingBatch, Tag("batch")], Annotated[Reading, Tag("reading")]],
                                        Discriminator(_shape)]]):
    """One reading, or {"readings": [...]} (chosen by the "readings" key, so errors name the fields
    of the shape that was sent)."""

    @property
    def readings(self) -> list[Reading]:
        return self.root.readings if isinstance(self.root, ReadingBatch) else [self.root]


class IngestResponse(BaseModel):
    accepted: int = Field(description="readings stored by this request")
    duplicates: int = Field(description="readings already stored (same stadiumId, gateId, ts); ignored")


class StatusQuery(QueryModel):
    stadiumId: Text = Field(min_length=1, max_length=40, description="see GET /api/flow/stadiums")


class Redirect(BaseModel):
    gateId: str = Field(description="the gate to send fans to")
    wait: float = Field(description="its predicted wait, minutes, with the load of redirects planned before this one")
    walk_minutes: float
    saving_minutes: float = Field(description="wait saved after the walk, with this redirect's load on the target")
    fans_per_minute: float = Field(description="fans per minute to send (at most half of this gate's arrivals)")
    target_wait_after: float = Field(description="the target's wait with this and earlier redirects' load; never red")


class GateStatus(BaseModel):
    gateId: str
    wait: float | None = Field(description="predicted wait in minutes for a fan joining now")
    state: str = Field(description="green (< 5 min), yellow (5-10), red (> 10); stale (newest reading older than "
                                   "stale_after_seconds: not counted, never a redirect target); unknown (no reading)")
    anomaly: bool
    anomalyScore: float | None
    last_updated: str | None = Field(description="ts of the gate's newest reading (UTC)")
    age_seconds: float | None = Field(description="how old that reading is")
    stale: bool
    queueLength: int | None
    openLanes: int | None
    perMinuteCount: int | None
    littles_law_wait: float | None = Field(description="queue x processing time / open lanes, for comparison")
    redirect: Redirect | None = None


class StateCounts(BaseModel):
    green: int
    yellow: int
    red: int
    stale: int
    unknown: int


class StatusResponse(BaseModel):
    stadiumId: str
    generated_at: str
    model_version: str
    wait_model: str = Field(description="the wait model chosen at training (see /model: choice)")
    anomaly_detector: str = Field(description="the detector that flags anomalies (chosen at training, see /model)")
    stale_after_seconds: float
    counts: StateCounts
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
