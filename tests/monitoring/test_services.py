"""Monitoring of powerball, demand, forecast and flow, each through its real app and small model."""
from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest

from services.common.monitoring import MIN_ACTUALS
from tests.conftest import write_headers


def monitoring_of(client, service):
    resp = client.get(f"/api/{service}/monitoring")
    assert resp.status_code == 200, resp.json
    return resp.json["versions"][0]


# -- powerball ------------------------------------------------------------------------------------
def test_powerball_scores_a_draw_by_log_loss_beside_uniform(service_app):
    app = service_app("powerball")
    client = app.test_client()
    model = app.extensions["model_holder"].current.model
    day = (date.fromisoformat(model.last_draw) + timedelta(days=3)).isoformat()
    draw = {"date": day, "white_balls": [61, 3, 17, 44, 28], "powerball": 9}
    resp = client.post("/api/powerball/actuals", headers=write_headers("powerball"), json=draw)
    assert resp.status_code == 201, resp.json
    body = resp.json
    white = [model.white_weights[n - 1] / 5 for n in (3, 17, 28, 44, 61)]
    expected = -(sum(math.log(p) for p in white) + math.log(model.powerball_probs[8])) / 6
    assert body["model_loss"] == pytest.approx(expected)
    assert body["baseline_loss"] == pytest.approx(-(5 * math.log(1 / 69) + math.log(1 / 26)) / 6)
    assert body["baseline"] == "uniform" and body["metric"] == "log_loss_per_ball" and body["in_training"] is False
    assert body["actual"] == {"white_balls": [3, 17, 28, 44, 61], "powerball": 9}
    again = client.post("/api/powerball/actuals", headers=write_headers("powerball"), json=draw | {"white_balls": [3, 17, 28, 44, 61]})
    assert again.status_code == 200 and again.json["status"] == "duplicate"      # the same draw, in another order
    assert client.post("/api/powerball/actuals", headers=write_headers("powerball"), json=draw | {"powerball": 10}).status_code == 409
    bad = client.post("/api/powerball/actuals", headers=write_headers("powerball"), json=draw | {"white_balls": [1, 1, 2, 3, 4]})
    assert bad.status_code == 400 and bad.json["error"]["details"][0]["field"] == "white_balls"
    early = client.post("/api/powerball/actuals", headers=write_headers("powerball"), json=draw | {"date": "2010-01-02"})
    assert early.status_code == 400 and early.json["error"]["details"][0]["field"] == "date"
    current = monitoring_of(client, "powerball")
    assert current["drift"]["status"] == "not applicable"
    assert current["live_error"]["actuals"] == 1 and current["verdict"].startswith("not enough actuals yet: 1 of")
    assert current["live_error"]["offline"]["metric"] == "log_loss_per_ball"


# -- demand ---------------------------------------------------------------------------------------
def demand_rows(trained):
    from services.demand.pipeline import read_rows
    from services.demand.warehouse import Warehouse

    warehouse = Warehouse(f"sqlite:///{trained('demand').parent / 'warehouse.db'}")
    try:
        return read_rows(warehouse)
    finally:
        warehouse.dispose()


def request_of(r) -> dict:
    return {"date": r.week_end_date.date().isoformat(), "store_id": r.store_id, "product_id": r.product_id,
            "price": float(r.price), "base_price": float(r.base_price), "display": int(r.display),
            "feature": int(r.feature), "tpr": int(r.tpr)}


def test_demand_actuals_beside_the_promo_adjusted_baseline_and_drift(service_app, trained):
    from services.demand import models

    app = service_app("demand")
    client = app.test_client()
    loaded = app.extensions["model_holder"].current
    name = loaded.manifest["metrics"]["summary"]["baseline"]
    rows = demand_rows(trained)
    baseline = next(b for b in models.baselines() if b.name == name).fit(rows)   # training's own baseline
    late = rows[rows["week_end_date"] == rows["week_end_date"].max()].head(MIN_ACTUALS)
    expected = baseline.predict(late.drop(columns=["units"]))
    for r, want in zip(late.itertuples(), expected):
        resp = client.post("/api/demand/actuals", headers=write_headers("demand"), json=request_of(r) | {"units": float(r.units)})
        assert resp.status_code == 201, resp.json
        served = client.post("/api/demand/predict", json=request_of(r)).json["prediction"]
        assert resp.json["prediction"] == pytest.approx(served)
        assert resp.json["baseline_prediction"] == pytest.approx(want, rel=1e-6)
        assert resp.json["in_training"] is True
    current = monitoring_of(client, "demand")
    live = current["live_error"]
    assert live["actuals"] == MIN_ACTUALS and live["baseline"] == name
    assert live["model_score"] == pytest.approx(np.mean([abs(u - p) for u, p in zip(
        late["units"], [client.post("/api/demand/predict", json=request_of(r)).json["prediction"]
                        for r in late.itertuples()])]))
    assert " live actuals: MAE " in current["verdict"] and "all of them in the training data: in-sample" in current["verdict"]
    # Requests at twice the highest shelf prices, and a product the model never saw.
    for r in late.itertuples():
        client.post("/api/demand/predict", json=request_of(r) | {"price": float(r.price) * 3})
    for _ in range(len(late)):
        assert client.post("/api/demand/predict", json=request_of(late.iloc[0]) | {"product_id": "999"}).status_code == 400
    features = monitoring_of(client, "demand")["drift"]["features"]
    assert features["price"]["observations"] == 4 * MIN_ACTUALS - MIN_ACTUALS + MIN_ACTUALS
    assert features["price"]["above_share"] > 0.2
    assert features["product_id"]["unknown_share"] == pytest.approx(MIN_ACTUALS / features["product_id"]["observations"])


# -- forecast -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["pooled_elasticity", "promo_adjusted_mean"])
def test_demand_baselines_use_their_own_levels_whatever_the_served_curve(trained, name):
    """A joint curve's served levels are netted of its own curve; the monitored baseline must still be
    training's baseline, from the unpromoted-week levels the artifact carries for it."""
    import json

    from services.demand import models
    from services.demand.model import DemandModel
    from services.demand.monitoring import baseline_units

    folder = trained("demand")
    served = DemandModel(folder, json.loads((folder / "manifest.json").read_text()))
    rows = demand_rows(trained)
    baseline = next(b for b in models.baselines() if b.name == name).fit(rows)
    sample = rows.sample(200, random_state=1)
    want = baseline.predict(sample.drop(columns=["units"]))
    got = [baseline_units(served, name, r.store_id, r.product_id, int(r.display), int(r.feature), int(r.tpr),
                          float(r.price)) for r in sample.itertuples()]
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_forecast_scores_a_match_after_the_data_beside_its_competitions_baseline(service_app):
    from services.forecast import train
    from services.forecast.monitoring import BASELINE_COLUMNS

    assert BASELINE_COLUMNS == train.BASELINE_COLUMNS
    app = service_app("forecast")
    client = app.test_client()
    loaded = app.extensions["model_holder"].current
    model = loaded.model
    stadium = next(n for n, e in model.stadiums.items() if str(e["last_tournament"]).startswith("AFCON"))
    last = date.fromisoformat(model.tournaments[model.stadiums[stadium]["last_tournament"]]["last_day"])
    match = {"team_a": "Morocco", "team_b": "Egypt", "stadium": stadium, "time": "20:00", "stage": "Round of 16",
             "date": (last + timedelta(days=2)).isoformat()}
    served = client.post("/api/forecast/predict", json=match).json
    resp = client.post("/api/forecast/actuals", headers=write_headers("forecast"), json=match | {"attendance": 41000})
    assert resp.status_code == 201, resp.json
    body = resp.json
    assert body["prediction"] == served["predicted_attendance"] and body["in_training"] is False
    verdict = loaded.manifest["metrics"]["verdicts"][served["competition"]]
    assert body["detail"]["baseline_name"] == verdict["strongest_baseline_on_test"]
    assert 0 <= body["baseline_prediction"] <= served["stadium_capacity"]
    assert body["model_loss"] == abs(41000 - served["predicted_attendance"])
    same = client.post("/api/forecast/actuals", headers=write_headers("forecast"), json=match | {"team_a": "Egypt", "team_b": "Morocco",
                                                              "attendance": 40000})
    assert same.status_code == 409 and "team_a=egypt|team_b=morocco" in same.json["error"]["message"]
    seen = client.post("/api/forecast/actuals", headers=write_headers("forecast"), json=match | {"date": (last - timedelta(days=3)).isoformat(),
                                                              "attendance": 40000})
    assert seen.status_code == 400 and seen.json["error"]["details"][0]["field"] == "date"
    for _ in range(3):   # an unknown team counts as unknown in the pooled team feature
        client.post("/api/forecast/predict", json=match | {"team_a": "Atlantis"})
    team = monitoring_of(client, "forecast")["drift"]["features"]["team"]
    assert team["observations"] == 2 + 6 and team["unknown_share"] == pytest.approx(3 / 8)   # actuals are not requests


# -- flow -----------------------------------------------------------------------------------------
def readings(n_minutes=30, proc_add=0.0):
    from services.flow.simulate import simulate_day
    from services.flow.stadiums import load_stadiums

    stadium = load_stadiums()["TANGIER"]
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)
    rows = simulate_day(stadium, 7, start, stadium.gate_ids[:4])
    out = []
    for r in rows[:n_minutes * 4]:
        out.append({k: r[k] for k in ("stadiumId", "gateId", "ts", "perMinuteCount", "queueLength", "openLanes")}
                   | {"avgProcessingTime": r["avgProcessingTime"] + proc_add})
    return out


def test_flow_ingest_drift_and_no_actuals(service_app, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOW_SQLITE_PATH", str(tmp_path / "flow.sqlite3"))
    app = service_app("flow")
    client = app.test_client()
    assert client.post("/api/flow/actuals", headers=write_headers("flow"), json={}).status_code in (404, 405)
    batch = readings(60)
    assert client.post("/api/flow/ingest", headers=write_headers("flow"), json={"readings": batch}).status_code == 202
    current = monitoring_of(client, "flow")
    assert current["live_error"] is None and current["verdict"].startswith("no actuals for this service")
    features = current["drift"]["features"]
    assert features["queueLength"]["observations"] == len(batch) and current["requests"] == 1
    shifted = readings(60, proc_add=80.0)       # every processing time beyond the simulator's largest
    for r in shifted:
        r["ts"] = (datetime.fromisoformat(r["ts"].replace("Z", "+00:00")) + timedelta(minutes=1)).isoformat()
    assert client.post("/api/flow/ingest", headers=write_headers("flow"), json={"readings": shifted}).status_code == 202
    features = monitoring_of(client, "flow")["drift"]["features"]
    proc = features["avgProcessingTime"]
    assert proc["status"] == "drift" and proc["above_share"] == pytest.approx(0.5)
    assert features["openLanes"]["above_share"] == 0.0 and features["openLanes"]["observations"] == 2 * len(batch)
