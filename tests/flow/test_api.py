"""The flow endpoints against a real (small) trained artifact and a temporary SQLite state."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.flow.api import create_app
from services.flow.config import load_flow_settings
from services.flow.simulate import reading_only, simulate_day
from services.flow.stadiums import load_stadiums
from tests.conftest import make_settings
from tests.conftest import write_headers


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
    resp = client.post("/api/flow/ingest", headers=write_headers("flow"), json=one())
    assert resp.status_code == 202 and resp.json == {"accepted": 1, "duplicates": 0}
    batch = {"readings": [one(), one(minutes_ago=1), one(gate="G2"), one(gate="G2")]}
    assert client.post("/api/flow/ingest", headers=write_headers("flow"), json=batch).json == {"accepted": 2, "duplicates": 2}
    assert client.application.extensions["flow_state"].count_readings() == 3


def test_bad_batch_is_rejected_whole_naming_each_index(client):
    batch = {"readings": [one(gate="G3"), one(ts="2025-12-21 18:00"), one(gateId="G99"), one(stadiumId="MARS"),
                          one(perMinuteCount=1.5), {"gateId": "G1"}]}
    resp = client.post("/api/flow/ingest", headers=write_headers("flow"), json=batch)
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
    ({**one(), "ts": iso(now_minute() - timedelta(days=31))}, "ts"),
    ({"readings": [one("G1"), {**one("G2"), "ts": iso(now_minute() - timedelta(days=31))}]}, "readings[1].ts"),
])
def test_invalid_input_is_a_400_naming_the_field(client, body, field):
    resp = client.post("/api/flow/ingest", headers=write_headers("flow"), json=body)
    assert resp.status_code == 400, resp.json
    assert field in {d["field"] for d in resp.json["error"]["details"]}
    # nothing half-applied: the good reading of a refused batch was not stored
    assert client.post("/api/flow/ingest", headers=write_headers("flow"), json=one("G1")).json == {
        "accepted": 1, "duplicates": 0}


def test_non_json_is_415(client):
    assert client.post("/api/flow/ingest", headers=write_headers("flow"), data="x", content_type="text/plain").status_code == 415


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
    assert client.post("/api/flow/ingest", headers=write_headers("flow"), json={"readings": readings}).status_code == 202
    body = client.get("/api/flow/status?stadiumId=RABAT").json
    assert body["model_version"] and len(body["gates"]) == len(load_stadiums()["RABAT"].gates)
    assert body["anomaly_detector"] == client.get("/api/flow/model").json["metrics"]["anomaly_choice"]["served"]
    g1, g2, g3 = body["gates"][:3]
    assert g1["queueLength"] == 600 and g1["last_updated"] == iso(now_minute()) and not g1["stale"]
    assert g1["state"] == "red" and g1["wait"] > 10
    assert g2["state"] == "green" and g2["wait"] < 5
    r = g1["redirect"]
    assert r["gateId"] == "G2" and r["saving_minutes"] >= 1 and r["walk_minutes"] > 0 and r["fans_per_minute"] >= 1
    assert r["target_wait_after"] < 10
    assert abs(r["saving_minutes"] - (g1["wait"] - r["target_wait_after"] - r["walk_minutes"])) < 0.02
    assert g3 == {**g3, "wait": None, "state": "unknown", "stale": True}
    assert body["counts"] == {"green": 1, "yellow": 0, "red": 1, "stale": 0, "unknown": len(body["gates"]) - 2}


def test_a_late_older_reading_changes_nothing_on_the_board(client):
    readings = [one("G1", minutes_ago=6 - k, queueLength=300 + 60 * k, openLanes=4, perMinuteCount=30,
                    avgProcessingTime=7.0) for k in range(7) if k != 3]
    client.post("/api/flow/ingest", headers=write_headers("flow"), json={"readings": readings})
    before = client.get("/api/flow/status?stadiumId=RABAT").json["gates"][0]
    # the missing minute arrives late, with a very different queue: stored, but not shown nor used
    late = client.post("/api/flow/ingest", headers=write_headers("flow"), json=one("G1", minutes_ago=3, queueLength=0, perMinuteCount=0))
    assert late.json == {"accepted": 1, "duplicates": 0}
    after = client.get("/api/flow/status?stadiumId=RABAT").json["gates"][0]
    volatile = ("age_seconds",)
    assert {k: v for k, v in after.items() if k not in volatile} == {k: v for k, v in before.items() if k not in volatile}


def test_stale_gate_is_grey_aged_uncounted_and_never_a_target(client):
    # G2 is empty but its newest reading is 9 days old; G1 is jammed now; G3 is fine now
    client.post("/api/flow/ingest", headers=write_headers("flow"), json=one("G2", minutes_ago=9 * 24 * 60, queueLength=0, perMinuteCount=10))
    client.post("/api/flow/ingest", headers=write_headers("flow"), json={"readings": [
        one("G1", minutes_ago=1 - k, queueLength=600 + 40 * k, openLanes=4, perMinuteCount=30, avgProcessingTime=7.0)
        for k in range(2)]})
    body = client.get("/api/flow/status?stadiumId=RABAT").json
    g1, g2 = body["gates"][:2]
    assert g2["stale"] and g2["state"] == "stale" and g2["age_seconds"] >= 9 * 86400 and not g2["anomaly"]
    assert body["counts"]["stale"] == 1 and body["counts"]["green"] == 0
    assert g1["state"] == "red" and (g1["redirect"] is None or g1["redirect"]["gateId"] != "G2")


def test_redirects_spread_so_no_target_turns_red(client):
    """Seven jammed gates and a few free ones: each target takes only the load it can carry."""
    rabat = load_stadiums()["RABAT"]
    readings = []
    for k in range(6):
        for gid in rabat.gate_ids[:7]:
            readings.append(one(gid, minutes_ago=5 - k, queueLength=900 + 60 * k, openLanes=4, perMinuteCount=40,
                                avgProcessingTime=7.0))
        for gid in rabat.gate_ids[7:]:
            readings.append(one(gid, minutes_ago=5 - k, queueLength=5, perMinuteCount=15, avgProcessingTime=6.0))
    assert client.post("/api/flow/ingest", headers=write_headers("flow"), json={"readings": readings}).status_code == 202
    body = client.get("/api/flow/status?stadiumId=RABAT").json
    gates = {g["gateId"]: g for g in body["gates"]}
    redirects = [g["redirect"] for g in body["gates"] if g["redirect"]]
    assert len({r["gateId"] for r in redirects}) >= 2, redirects   # not everyone to the same gate
    load: dict[str, float] = {}
    for r in redirects:
        assert gates[r["gateId"]]["state"] in ("green", "yellow") and r["target_wait_after"] <= 10
        load[r["gateId"]] = max(load.get(r["gateId"], 0.0), r["target_wait_after"])
    assert all(v <= 10 for v in load.values())


def test_ready_and_status_with_a_failing_state_store(flow_store_uri, tmp_path):
    class Down:
        shared_dependency = True

        def check(self):
            return "DynamoDB table t unusable: ReadTimeoutError"

        def windows(self, stadium, gates):
            raise TimeoutError("read timed out")

    flow = load_flow_settings(sqlite_path=tmp_path / "unused.sqlite3")
    app = create_app(make_settings(flow_store_uri, tmp_path), flow_settings=flow, state_store=Down(),
                     start_model_refresh=False)
    assert app.extensions["model_holder"].refresh()
    c = app.test_client()
    ready = c.get("/api/flow/ready")
    assert ready.status_code == 200 and ready.json["status"] == "degraded" and "ReadTimeout" in ready.json["degraded"]
    status = c.get("/api/flow/status?stadiumId=RABAT")
    assert status.status_code == 503 and status.json["error"]["code"] == "state_store_unavailable"


def test_simulated_surge_day_ingests_and_flags(client):
    start = now_minute() - timedelta(minutes=170)
    rows = simulate_day(load_stadiums()["RABAT_AL_MEDINA"], 11, start)
    for i in range(0, len(rows), 500):
        assert client.post("/api/flow/ingest", headers=write_headers("flow"), json={"readings": [reading_only(r) for r in rows[i:i + 500]]}
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
    assert {"holdout", "split_plan", "validation", "choice", "test", "wait_test_by_regime", "anomaly_test",
            "anomaly_choice", "targets", "summary"} <= set(metrics)
    doc = client.get("/api/flow/openapi.json").json
    assert "requestBody" in doc["paths"]["/api/flow/ingest"]["post"]
    assert "404" in doc["paths"]["/api/flow/status"]["get"]["responses"]


def test_a_baseline_chosen_at_training_is_what_serving_computes(flow_artifact, tmp_path):
    """Had a baseline won on validation, flow.json names its feature column and no ONNX is needed."""
    import json
    import shutil

    from services.flow.features import FEATURE_NAMES, Reading
    from services.flow.model import FlowModel

    work = tmp_path / "v"
    shutil.copytree(flow_artifact, work)
    config = json.loads((work / "flow.json").read_text())
    config.update(wait_model="queue_x_processing_over_lanes", wait_column="little_wait_smooth")
    (work / "flow.json").write_text(json.dumps(config))
    (work / "wait.onnx").unlink(missing_ok=True)
    model = FlowModel(work, {"version": "v"})
    window = [Reading(60_000 * m, 30, 8.0, 300 + 10 * m, 5) for m in range(5)]
    from services.flow.features import feature_matrix

    expected = feature_matrix([window])[0, FEATURE_NAMES.index("little_wait_smooth")]
    assert model.wait_name == "queue_x_processing_over_lanes"
    assert abs(model.predict([window])[0].wait - float(expected)) < 1e-6


def test_status_recomputes_predictions_only_when_the_state_moved(client, tmp_path):
    """/status keeps a stadium's predictions while the state store's version and the model stay; a write by
    another connection (another worker) or this one, and a prune, move the version and show at once."""
    from services.flow.state import SqliteStateStore

    app = client.application
    state = app.extensions["flow_state"]
    calls = []
    windows = state.windows
    state.windows = lambda *a: calls.append(a) or windows(*a)
    assert client.post("/api/flow/ingest", headers=write_headers("flow"), json=one(queueLength=20)).status_code == 202
    first = client.get("/api/flow/status?stadiumId=RABAT").json
    again = client.get("/api/flow/status?stadiumId=RABAT").json
    assert len(calls) == 1 and again["gates"] == first["gates"]
    other = SqliteStateStore(state.path)  # another worker's connection to the same file
    other.ingest([{"stadium": "RABAT", "gate": "G1", "ts_ms": int(now_minute().timestamp() * 1000) + 1000,
                   "count": 40, "proc": 6.0, "queue": 400, "lanes": 8}])
    moved = client.get("/api/flow/status?stadiumId=RABAT").json
    assert len(calls) == 2
    g1 = lambda body: next(g for g in body["gates"] if g["gateId"] == "G1")  # noqa: E731
    assert g1(moved) != g1(first)
    before = state.version()
    assert other.ingest([{"stadium": "RABAT", "gate": "G1", "ts_ms": int(now_minute().timestamp() * 1000) + 1000,
                          "count": 40, "proc": 6.0, "queue": 400, "lanes": 8}]) == (0, 1)  # a duplicate: no change
    assert state.version() == before
    other.prune(now_ms=int(now_minute().timestamp() * 1000) + 10 * 86400_000)  # everything expired
    assert state.version() > before
    assert client.get("/api/flow/status?stadiumId=RABAT").json["gates"] != moved["gates"] and len(calls) == 3
