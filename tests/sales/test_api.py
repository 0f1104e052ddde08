"""The sales endpoints against a real (small) trained artifact."""
from __future__ import annotations

import json

import pytest

from services.common.store import ModelStore
from services.sales.api import create_app
from tests.conftest import make_settings

GOOD = {"Store": 1, "Date": "10-08-2012", "Holiday_Flag": 0, "Temperature": 85.0, "Fuel_Price": 3.6,
        "CPI": 221.5, "Unemployment": 6.9}


@pytest.fixture(scope="module")
def client(sales_artifact, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sales-api")
    store_uri = (tmp / "store").as_uri()
    ModelStore(store_uri, tmp / "cache").publish("sales", sales_artifact)
    app = create_app(make_settings(store_uri, tmp), start_model_refresh=False)
    assert app.extensions["model_holder"].refresh()
    return app.test_client()


def test_predict_inside_history_uses_actual_lags(client):
    resp = client.post("/api/sales/predict", json={**GOOD, "Date": "2012-07-27"})
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert body["lags_from"] == "history" and body["week_ending"] == "2012-07-27"
    parts = body["components"]
    assert body["prediction"] == pytest.approx((parts["random_forest"] + parts["xgboost"]) / 2)
    assert 5e5 < body["prediction"] < 5e6  # store 1 sells about 1.5M a week


def test_predict_after_history_uses_forecast_lags_and_iso_dates(client):
    a = client.post("/api/sales/predict", json=GOOD).json
    b = client.post("/api/sales/predict", json={**GOOD, "Date": "2012-08-07"}).json  # same Sat..Fri week
    assert a["week_ending"] == b["week_ending"] == "2012-08-10"
    assert a["lags_from"] == "forecast" and a["prediction"] == b["prediction"]
    assert a["model_version"]


def test_inputs_change_the_prediction(client):
    base = client.post("/api/sales/predict", json=GOOD).json["prediction"]
    other_store = client.post("/api/sales/predict", json={**GOOD, "Store": 2}).json["prediction"]
    assert base != other_store


def test_forecast_returns_weeks_after_history_with_interval(client, sales_artifact):
    resp = client.post("/api/sales/forecast", json={"store_id": 2, "steps": 5})
    assert resp.status_code == 200
    body = resp.json
    manifest = json.loads((sales_artifact / "manifest.json").read_text())
    assert body["interval_level"] == 0.9 and body["store_id"] == 2
    assert body["model"] == manifest["metrics"]["choice"]["chosen"]          # the served model is the chosen one
    assert "conformal" in body["interval"]
    dates = [p["Date"] for p in body["forecast"]]
    assert dates == ["2012-08-03", "2012-08-10", "2012-08-17", "2012-08-24", "2012-08-31"]
    for point in body["forecast"]:
        assert point["lower"] < point["Sales"] < point["upper"]
    # 13 weeks is the longest horizon backtested, and so the longest served
    assert len(client.post("/api/sales/forecast", json={"store_id": 2, "steps": 13}).json["forecast"]) == 13


def test_history_and_stores(client):
    hist = client.get("/api/sales/history?store_id=1&weeks=3").json["history"]
    assert [h["Date"] for h in hist] == ["2012-07-13", "2012-07-20", "2012-07-27"]
    stores = client.get("/api/sales/stores").json
    assert stores["stores"] == [1, 2] and stores["last_week"] == "2012-07-27"


@pytest.mark.parametrize("change,field", [
    ({"Store": 99}, "Store"),                      # unknown store
    ({"Store": "1"}, "Store"),                     # wrong type
    ({"Temperature": "hot"}, "Temperature"),
    ({"Fuel_Price": -1.0}, "Fuel_Price"),          # negative fuel price
    ({"Holiday_Flag": 2}, "Holiday_Flag"),
    ({"Date": "2012/08/10"}, "Date"),              # unparseable date
    ({"Date": "2010-03-05"}, "Date"),              # before 52 weeks of history
    ({"Date": "2014-01-03"}, "Date"),              # too far past the history
    ({"Colour": "red"}, "Colour"),                 # unknown field
])
def test_predict_400_names_the_field(client, change, field):
    resp = client.post("/api/sales/predict", json={**GOOD, **change})
    assert resp.status_code == 400
    assert resp.json["error"]["details"][0]["field"] == field
    assert resp.json["error"]["details"][0]["problem"]


def test_predict_missing_field_and_nan(client):
    body = {k: v for k, v in GOOD.items() if k != "CPI"}
    resp = client.post("/api/sales/predict", json=body)
    assert resp.status_code == 400 and resp.json["error"]["details"][0] == {"field": "CPI",
                                                                            "problem": "required field is missing"}
    raw = '{"Store": 1, "Date": "10-08-2012", "Holiday_Flag": 0, "Temperature": NaN, "Fuel_Price": 3.6, ' \
          '"CPI": 221.5, "Unemployment": 6.9}'
    resp = client.post("/api/sales/predict", data=raw, content_type="application/json")
    assert resp.status_code == 400 and resp.json["error"]["details"][0]["field"] == "Temperature"


@pytest.mark.parametrize("body,field", [
    ({"store_id": 1, "steps": 0}, "steps"), ({"store_id": 1, "steps": 14}, "steps"),
    ({"store_id": 7, "steps": 4}, "store_id"), ({"store_id": 1}, "steps"), ({"store_id": 1, "steps": 2.5}, "steps"),
])
def test_forecast_400_names_the_field(client, body, field):
    resp = client.post("/api/sales/forecast", json=body)
    assert resp.status_code == 400 and resp.json["error"]["details"][0]["field"] == field


def test_history_query_errors(client):
    resp = client.get("/api/sales/history?store_id=abc")
    assert resp.status_code == 400 and resp.json["error"]["details"][0]["field"] == "store_id"


def test_model_endpoint_shows_metrics_beside_baselines(client):
    metrics = client.get("/api/sales/model").json["metrics"]
    models = {"arima", "global_gbm", "global_linear", "seasonal_naive", "level_adjusted_seasonal_naive", "last_value"}
    assert set(metrics["validation"]) == set(metrics["test"]) == models
    assert {"random_forest", "xgboost", "ensemble", "seasonal_naive", "level_adjusted_seasonal_naive",
            "last_value"} == set(metrics["predict_one_step"])
    for name in ("summary", "summary_latest_13_weeks", "summary_predict"):
        assert isinstance(metrics[name]["beats_baseline"], bool) and metrics[name]["statement"]
