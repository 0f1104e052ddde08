"""The flow endpoints against a real (small) trained artifact and a temporary SQLite state."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.flow.api import create_app
from services.flow.config import load_flow_settings
from services.flow.simulate import reading_only, simulate_day
from services.flow.stadiums import load_stadiums
from tests.conftest import make_settings


@pytest.fixture
def client(flow_store_uri, tmp_path):
    flow = load_flow_settings(sqlite_path=tmp_path / "state.sqlite3")
    app = create_app(make_settings(flow_store_uri, tmp_path), flow_settings=flow, start_model_refresh=False)
    assert app.extensions["model_holder"].refresh()
    return app.test_client()


def now_minute() -> datetime:
    return datetime.now(timezone.utc).replace(second=0, microsecond=0)


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def one(gate="G1", minutes_ago=0, **kw) -> dict:
    r = {"stadiumId": "RABAT", "gateId": gate, "ts": iso(now_minute() - timedelta(minutes=minutes_ago)),
         "perMinuteCount": 40, "avgProcessingTime": 6.0, "queueLength": 20, "openLanes": 8}
    r.update(kw)
    return r


def test_single_and_batch_ingest_are_idempotent(client):
    resp = client.post("/api/flow/ingest", json=one())
    assert resp.status_code == 202 and resp.json == {"accepted": 1, "duplicates": 0}
    batch = {"readings": [one(), one(minutes_ago=1), one(gate="G2"), one(gate="G2")]}
    assert client.post("/api/flow/ingest", json=batch).json == {"accepted": 2, "duplicates": 2}
    assert client.application.extensions["flow_state"].count_readings() == 3


def test_bad_batch_is_rejected_whole_naming_each_index(client):
    batch = {"readings": [one(gate="G3"), one(ts="2025-12-21 18:00"), one(gateId="G99"), one(stadiumId="MARS"),
                          one(perMinuteCount=1.5), {"gateId": "G1"}]}
    resp = client.post("/api/flow/ingest", json=batch)
    assert resp.status_code == 400
    fields = {d["field"] for d in resp.json["error"]["details"]}
    assert {"readings[1].ts", "readings[2].gateId", "readings[3].stadiumId", "readings[4].perMinuteCount",
            "readings[5].stadiumId", "readings[5].ts"} <= fields
    assert not any(f.startswith("readings[0]") for f in fields)
    assert client.application.extensions["flow_state"].count_readings() == 0  # nothing stored


@pytest.mark.parametrize("body,field", [
    ({"readings": []}, "readings"),
    ({"readings": [one()] * 501}, "readings"),
    ({"readings": "x"}, "readings"),
    ([1, 2], "body"),
    ({**one(), "queueLength": -1}, "queueLength"),
    ({**one(), "openLanes": 99}, "openLanes"),
    ({**one(), "avgProcessingTime": "fast"}, "avgProcessingTime"),
    ({**one(), "ts": "2025-12-21T18:00:00"}, "ts"),
    ({**one(), "ts": iso(now_minute() + timedelta(days=3))}, "ts"),
])
def test_invalid_input_is_a_400_naming_the_field(client, body, field):
    resp = client.post("/api/flow/ingest", json=body)
    assert resp.status_code == 400, resp.json
    assert field in {d["field"] for d in resp.json["error"]["details"]}


def test_non_json_is_415(client):
    assert client.post("/api/flow/ingest", data="x", content_type="text/plain").status_code == 415


def test_status_unknown_stadium_is_404_listing_known_ids(client):
    resp = client.get("/api/flow/status?stadiumId=NOWHERE")
    assert resp.status_code == 404 and "RABAT" in resp.json["error"]["message"]
    assert client.get("/api/flow/status").status_code == 400


def test_status_reflects_the_newest_reading_and_redirects(client):
    # G1 has a long queue with few lanes; G2 (2 minutes' walk) is empty.
    readings = []
    for k in range(6):
        readings.append(one("G1", minutes_ago=5 - k, queueLength=400 + 40 * k, openLanes=4, perMinuteCount=30,
                            avgProcessingTime=7.0))
        readings.append(one("G2", minutes_ago=5 - k, queueLength=0, perMinuteCount=10))
    assert client.post("/api/flow/ingest", json={"readings": readings}).status_code == 202
    # a late, older reading must not replace the state
    client.post("/api/flow/ingest", json=one("G1", minutes_ago=30, queueLength=0))
    body = client.get("/api/flow/status?stadiumId=RABAT").json
    assert body["model_version"] and len(body["gates"]) == len(load_stadiums()["RABAT"].gates)
    g1 = next(g for g in body["gates"] if g["gateId"] == "G1")
    g2 = next(g for g in body["gates"] if g["gateId"] == "G2")
    g3 = next(g for g in body["gates"] if g["gateId"] == "G3")
    assert g1["queueLength"] == 600 and g1["last_updated"] == iso(now_minute()) and not g1["stale"]
    assert g1["state"] == "red" and g1["wait"] > 10
    assert g2["state"] == "green" and g2["wait"] < 5
    assert g1["redirect"]["gateId"] in {g["gateId"] for g in body["gates"] if g["wait"] is not None}
    assert g1["redirect"]["saving_minutes"] >= 1 and g1["redirect"]["walk_minutes"] > 0
    assert g3 == {**g3, "wait": None, "state": "unknown", "stale": True}


def test_stale_gate(client):
    client.post("/api/flow/ingest", json=one("G1", minutes_ago=10))
    g1 = client.get("/api/flow/status?stadiumId=RABAT").json["gates"][0]
    assert g1["stale"] is True and g1["wait"] is not None


def test_simulated_surge_day_ingests_and_flags(client):
    start = now_minute() - timedelta(minutes=170)
    rows = simulate_day(load_stadiums()["RABAT_AL_MEDINA"], 11, start)
    for i in range(0, len(rows), 500):
        assert client.post("/api/flow/ingest", json={"readings": [reading_only(r) for r in rows[i:i + 500]]}
                           ).status_code == 202
    body = client.get("/api/flow/status?stadiumId=RABAT_AL_MEDINA").json
    assert all(g["wait"] is not None and g["anomalyScore"] is not None for g in body["gates"])


def test_stadiums_model_ready_and_openapi(client):
    stadiums = client.get("/api/flow/stadiums").json["stadiums"]
    ids = {s["id"] for s in stadiums}
    assert {"AGADIR", "RABAT", "CASABLANCA", "TANGIER", "FES", "MARRAKECH"} <= ids
    tangier = next(s for s in stadiums if s["id"] == "TANGIER")
    assert tangier["capacity"] == 75500 and len(tangier["walk_minutes"]) == len(tangier["gates"])
    assert client.get("/api/flow/ready").status_code == 200
    metrics = client.get("/api/flow/model").json["metrics"]
    assert {"holdout", "wait", "anomaly", "summary"} <= set(metrics)
    doc = client.get("/api/flow/openapi.json").json
    assert "requestBody" in doc["paths"]["/api/flow/ingest"]["post"]
    assert "404" in doc["paths"]["/api/flow/status"]["get"]["responses"]
