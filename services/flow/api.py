"""HTTP routes of the flow service."""
from __future__ import annotations

import time

from flask import Flask, current_app
from services.common.api import Api, ApiError, current_model
from services.common.app import create_service_app
from services.common.config import Settings

from . import board, model as flow_model
from .config import MAX_BATCH, FlowSettings, build_state_store, load_flow_settings
from .schemas import IngestRequest, IngestResponse, Reading, StadiumsResponse, StatusQuery, StatusResponse
from .stadiums import load_stadiums


def timely_readings(readings: list[Reading], max_future_s: float, max_age_s: float) -> list[dict]:
    """Readings already validated by the schema; one more rule needs the clock: none stamped more than
    `max_future_s` ahead (clock skew) or more than `max_age_s` ago. Any problem rejects the whole
    request, so nothing is half-applied."""
    now_ms = time.time() * 1000
    single = len(readings) == 1
    clean, details = [], []
    for i, r in enumerate(readings):
        ts_ms = int(r.ts.timestamp() * 1000)
        if ts_ms > now_ms + max_future_s * 1000:
            field = "ts" if single else f"readings[{i}].ts"
            details.append({"field": field, "problem": f"more than {max_future_s:g} s in the future"})
            continue
        if ts_ms < now_ms - max_age_s * 1000:
            field = "ts" if single else f"readings[{i}].ts"
            details.append({"field": field, "problem": f"more than {max_age_s:g} s in the past"})
            continue
        clean.append({"stadium": r.stadiumId, "gate": r.gateId, "ts_ms": ts_ms, "count": r.perMinuteCount,
                      "proc": r.avgProcessingTime, "queue": r.queueLength, "lanes": r.lanes()})
    if details:
        summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details[:5])
        more = f" (+{len(details) - 5} more)" if len(details) > 5 else ""
        raise ApiError(400, "invalid_request", f"invalid body: {summary}{more}; nothing was stored", details)
    return clean


def build_api() -> Api:
    api = Api("flow", description="Stadium gate flow: turnstile readings in; predicted waits (LightGBM/ONNX), "
                                  "green/yellow/red, anomalies and redirection to a faster gate out.")

    @api.route("/ingest", methods=("POST",), body=IngestRequest, response=IngestResponse, status=202,
               needs_model=False, write=True,
               summary=f"Store one reading or {{\"readings\": [...]}} (1..{MAX_BATCH}); idempotent per "
                       "(stadiumId, gateId, ts)")
    def ingest(body: IngestRequest):
        settings: FlowSettings = current_app.extensions["flow_settings"]
        readings = timely_readings(body.readings, settings.max_future_seconds, settings.max_age_seconds)
        accepted, duplicates = current_app.extensions["flow_state"].ingest(readings)
        return IngestResponse(accepted=accepted, duplicates=duplicates)

    # stadium id -> ((state version, model version), each gate's latest reading, its prediction): the
    # predictions depend on the windows and the model only (staleness, on the clock, is the board's), so a
    # stadium's are recomputed only when the state store's version or the model moved. One entry per
    # known stadium. Stores without a version (DynamoDB) are read every time.
    predicted: dict[str, tuple] = {}

    @api.route("/status", query=StatusQuery, response=StatusResponse, extra_statuses=(404,),
               summary="Every gate of a stadium: predicted wait, state, anomaly, staleness, redirect")
    def status(query: StatusQuery):
        stadiums = load_stadiums()
        stadium = stadiums.get(query.stadiumId)
        if stadium is None:
            raise ApiError(404, "not_found", f"unknown stadium {query.stadiumId}; known: {', '.join(stadiums)}",
                           [{"field": "stadiumId", "problem": f"known: {', '.join(stadiums)}"}])
        loaded = current_model()
        m: flow_model.FlowModel = loaded.model
        settings: FlowSettings = current_app.extensions["flow_settings"]
        state = current_app.extensions["flow_state"]
        version = getattr(state, "version", None)
        cached = predicted.get(stadium.id)
        try:
            # the version is read before the windows: a write between the two leaves newer windows under
            # the older version (recomputed on the next request), never older windows under a newer one
            key = (version(), loaded.version) if version is not None else None
            hit = key is not None and cached is not None and cached[0] == key
            windows = None if hit else state.windows(stadium.id, stadium.gate_ids)
        except Exception as exc:  # the state store is down or slow: say so, as JSON
            raise ApiError(503, "state_store_unavailable", f"gate state could not be read: {type(exc).__name__}",
                           [{"field": "stadiumId", "problem": "gate state unavailable; retry shortly"}]) from None
        if windows is None:
            _, latest, predictions = cached
        else:
            gates_with = [g for g in stadium.gate_ids if windows.get(g)]
            predictions = dict(zip(gates_with, m.predict([windows[g] for g in gates_with])))
            latest = {g: windows[g][-1] for g in gates_with}
            if key is not None:
                predicted[stadium.id] = (key, latest, predictions)
        now_ms = time.time() * 1000
        inputs = []
        for gid in stadium.gate_ids:
            p = predictions.get(gid)
            inputs.append(board.GateInput(gid, latest[gid] if p else None, *(
                (p.wait, p.anomaly, p.anomaly_score, p.capacity_per_min, p.arrivals_per_min) if p else ())))
        result = board.build_board(stadium, inputs, now_ms, settings.stale_seconds, m.green_below, m.red_above)
        return {"stadiumId": stadium.id, "generated_at": board.iso(int(now_ms)), "model_version": loaded.version,
                "wait_model": m.wait_name, "anomaly_detector": m.method, "stale_after_seconds": settings.stale_seconds,
                **result}

    @api.route("/stadiums", response=StadiumsResponse, needs_model=False,
               summary="Known stadiums with their gates, lanes and walking minutes between gates")
    def stadiums():
        return {"stadiums": [{"id": s.id, "name": s.name, "city": s.city, "capacity": s.capacity,
                              "gates": [{"id": g.id, "lanes": g.lanes} for g in s.gates],
                              "walk_minutes": [list(r) for r in s.walk_minutes]}
                             for s in load_stadiums().values()]}

    return api


def create_app(settings: Settings | None = None, flow_settings: FlowSettings | None = None, state_store=None,
               **kwargs) -> Flask:
    flow_settings = flow_settings or load_flow_settings()
    store = state_store or build_state_store(flow_settings)
    # a failing DynamoDB call is shared by every task: report it as degraded, do not fail readiness
    shared = getattr(store, "shared_dependency", False)
    return create_service_app(build_api(), flow_model.load, settings,
                              on_ready_check=None if shared else store.check,
                              degraded_check=store.check if shared else None,
                              extensions={"flow_settings": flow_settings, "flow_state": store}, **kwargs)
