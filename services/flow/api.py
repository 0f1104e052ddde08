"""HTTP routes of the flow service."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from flask import Flask, current_app
from pydantic import ValidationError

from services.common.api import Api, ApiError, current_model, parse_json_body
from services.common.app import create_service_app
from services.common.config import Settings

from . import model as flow_model
from .config import MAX_BATCH, FlowSettings, build_state_store, load_flow_settings
from .features import little_wait
from .schemas import (IngestRequest, IngestResponse, Reading, StadiumsResponse, StatusQuery, StatusResponse,
                      parse_ts)
from .stadiums import load_stadiums


def _iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, timezone.utc).isoformat().replace("+00:00", "Z")


def _field(prefix: str, loc: tuple) -> str:
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else ("." if path else "") + str(part)
    return path or "body"


def _problems(exc: ValidationError, prefix: str) -> list[dict]:
    out = []
    for err in exc.errors(include_url=False):
        problem = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            problem = "required field is missing"
        elif err["type"] == "extra_forbidden":
            problem = "unknown field; see the schema in openapi.json"
        out.append({"field": _field(prefix, err["loc"]), "problem": problem})
    return out


def validate_readings(payload, max_future_s: float) -> list[dict]:
    """Every reading checked; any problem rejects the whole request, naming each index and field."""
    stadiums = load_stadiums()
    if isinstance(payload, dict) and "readings" in payload:
        extra = sorted(set(payload) - {"readings"})
        items, prefix = payload["readings"], "readings"
        details = [{"field": k, "problem": "unknown field; send one reading or {\"readings\": [...]}"} for k in extra]
        if not isinstance(items, list):
            raise ApiError(400, "invalid_request", "readings must be a list of readings",
                           [{"field": "readings", "problem": "must be a list"}])
        if not 1 <= len(items) <= MAX_BATCH:
            raise ApiError(400, "invalid_request", f"readings: send 1..{MAX_BATCH} readings, got {len(items)}",
                           [{"field": "readings", "problem": f"must hold 1..{MAX_BATCH} readings, got {len(items)}"}])
    elif isinstance(payload, dict):
        items, prefix, details = [payload], None, []
    else:
        raise ApiError(400, "invalid_request", "body must be one reading or {\"readings\": [...]}",
                       [{"field": "body", "problem": "must be a JSON object"}])
    now_ms = time.time() * 1000
    clean = []
    for i, item in enumerate(items):
        where = f"{prefix}[{i}]" if prefix else ""
        try:
            r = Reading.model_validate(item)
        except ValidationError as exc:
            details += _problems(exc, where)
            continue
        stadium = stadiums.get(r.stadiumId)
        name = (where + ".") if where else ""
        if stadium is None:
            details.append({"field": f"{name}stadiumId", "problem": f"unknown stadium; known: {', '.join(stadiums)}"})
            continue
        gate = stadium.gate(r.gateId)
        if gate is None:
            details.append({"field": f"{name}gateId",
                            "problem": f"unknown gate of {r.stadiumId}; known: G1..G{len(stadium.gates)}"})
            continue
        lanes = gate.lanes if r.openLanes is None else r.openLanes
        if lanes > gate.lanes:
            details.append({"field": f"{name}openLanes", "problem": f"{r.gateId} has {gate.lanes} lanes"})
            continue
        ts_ms = int(parse_ts(r.ts).timestamp() * 1000)
        if ts_ms > now_ms + max_future_s * 1000:
            details.append({"field": f"{name}ts", "problem": f"more than {max_future_s:g} s in the future"})
            continue
        clean.append({"stadium": r.stadiumId, "gate": r.gateId, "ts_ms": ts_ms, "count": r.perMinuteCount,
                      "proc": r.avgProcessingTime, "queue": r.queueLength, "lanes": lanes})
    if details:
        summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details[:5])
        more = f" (+{len(details) - 5} more)" if len(details) > 5 else ""
        raise ApiError(400, "invalid_request", f"invalid body: {summary}{more}; nothing was stored", details)
    return clean


def build_api() -> Api:
    api = Api("flow", description="Stadium gate flow: turnstile readings in; predicted waits (LightGBM/ONNX), "
                                  "green/yellow/red, anomalies and redirection to a faster gate out.")

    @api.route("/ingest", methods=("POST",), response=IngestResponse, status=202, needs_model=False,
               summary=f"Store one reading or {{\"readings\": [...]}} (1..{MAX_BATCH}); idempotent per "
                       "(stadiumId, gateId, ts)")
    def ingest():
        settings: FlowSettings = current_app.extensions["flow_settings"]
        readings = validate_readings(parse_json_body(), settings.max_future_seconds)
        accepted, duplicates = current_app.extensions["flow_state"].ingest(readings)
        return IngestResponse(accepted=accepted, duplicates=duplicates)

    # The view validates each reading itself (to name every bad index); openapi.json shows this schema.
    api.operations[-1].body = IngestRequest

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
        windows = current_app.extensions["flow_state"].windows(stadium.id, stadium.gate_ids)
        gates_with = [g for g in stadium.gate_ids if windows.get(g)]
        predictions = dict(zip(gates_with, m.predict([windows[g] for g in gates_with])))
        now_ms = time.time() * 1000
        gates = []
        for gid in stadium.gate_ids:
            p = predictions.get(gid)
            if p is None:
                gates.append({"gateId": gid, "wait": None, "state": "unknown", "anomaly": False, "anomalyScore": None,
                              "last_updated": None, "stale": True, "queueLength": None, "openLanes": None,
                              "perMinuteCount": None, "littles_law_wait": None, "redirect": None})
                continue
            cur = windows[gid][-1]
            gates.append({"gateId": gid, "wait": round(p.wait, 2), "state": m.state(p.wait), "anomaly": p.anomaly,
                          "anomalyScore": round(p.anomaly_score, 4), "last_updated": _iso(cur.ts_ms),
                          "stale": now_ms - cur.ts_ms > settings.stale_seconds * 1000,
                          "queueLength": cur.queue, "openLanes": cur.lanes, "perMinuteCount": cur.count,
                          "littles_law_wait": round(little_wait(cur.queue, cur.proc, cur.lanes), 2),
                          "redirect": None})
        for g in gates:
            if g["state"] not in ("yellow", "red"):
                continue
            best = None
            for other in gates:
                if other is g or other["wait"] is None or other["stale"]:
                    continue
                walk = stadium.walk(g["gateId"], other["gateId"])
                saving = g["wait"] - (other["wait"] + walk)
                if saving >= 1.0 and (best is None or saving > best["saving_minutes"]):
                    best = {"gateId": other["gateId"], "wait": other["wait"], "walk_minutes": walk,
                            "saving_minutes": round(saving, 2)}
            g["redirect"] = best
        return {"stadiumId": stadium.id, "generated_at": _iso(int(now_ms)), "model_version": loaded.version,
                "gates": gates}

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
    return create_service_app(build_api(), flow_model.load, settings, on_ready_check=store.check,
                              extensions={"flow_settings": flow_settings, "flow_state": store}, **kwargs)
