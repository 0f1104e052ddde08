"""HTTP routes of the flow service."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from flask import Flask, current_app
from services.common.api import Api, ApiError, current_model
from services.common.app import create_service_app
from services.common.config import Settings

from . import model as flow_model
from .config import MAX_BATCH, FlowSettings, build_state_store, load_flow_settings
from .features import little_wait
from .schemas import IngestRequest, IngestResponse, Reading, StadiumsResponse, StatusQuery, StatusResponse
from .stadiums import load_stadiums


def _iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, timezone.utc).isoformat().replace("+00:00", "Z")


def future_readings(readings: list[Reading], max_future_s: float) -> list[dict]:
    """Readings already validated by the schema; one more rule needs the clock: none from the future.
    Any problem rejects the whole request."""
    now_ms = time.time() * 1000
    single = len(readings) == 1
    clean, details = [], []
    for i, r in enumerate(readings):
        ts_ms = int(r.ts.timestamp() * 1000)
        if ts_ms > now_ms + max_future_s * 1000:
            field = "ts" if single else f"readings[{i}].ts"
            details.append({"field": field, "problem": f"more than {max_future_s:g} s in the future"})
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
               needs_model=False,
               summary=f"Store one reading or {{\"readings\": [...]}} (1..{MAX_BATCH}); idempotent per "
                       "(stadiumId, gateId, ts)")
    def ingest(body: IngestRequest):
        settings: FlowSettings = current_app.extensions["flow_settings"]
        readings = future_readings(body.readings, settings.max_future_seconds)
        accepted, duplicates = current_app.extensions["flow_state"].ingest(readings)
        return IngestResponse(accepted=accepted, duplicates=duplicates)

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
