"""Sales monitoring end to end in-process: data-set rows as requests and actuals, then drifted inputs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from services.common.monitoring import MIN_ACTUALS
from tests.conftest import ROOT, make_settings
from tests.conftest import write_headers

DATA = ROOT / "data" / "walmart_sales" / "Walmart_Store_sales.csv"


@pytest.fixture
def sales_app(sales_artifact, monitoring_env, file_store_uri, tmp_path):
    from services.common.store import ModelStore
    from services.sales.api import create_app

    ModelStore(file_store_uri, tmp_path / "publish").publish("sales", sales_artifact)
    app = create_app(make_settings(file_store_uri, tmp_path), start_model_refresh=False)
    app.extensions["model_holder"].refresh()
    return app


def rows(stores=(1, 2)) -> pd.DataFrame:
    frame = pd.read_csv(DATA)
    return frame[frame["Store"].isin(stores)].reset_index(drop=True)


def predictable(data: pd.DataFrame) -> pd.DataFrame:
    """Weeks /predict answers: 52 weeks of history before them."""
    dates = pd.to_datetime(data["Date"], format="%d-%m-%Y")
    return data[dates >= dates.min() + pd.Timedelta(weeks=52)]


def request_of(r) -> dict:
    return {"Store": int(r.Store), "Date": r.Date, "Holiday_Flag": int(r.Holiday_Flag),
            "Temperature": float(r.Temperature), "Fuel_Price": float(r.Fuel_Price), "CPI": float(r.CPI),
            "Unemployment": float(r.Unemployment)}


def test_the_profile_is_in_the_manifest(sales_artifact):
    import json

    manifest = json.loads((sales_artifact / "manifest.json").read_text())
    features = manifest["profile"]["features"]
    assert list(features) == ["Store", "Holiday_Flag", "Temperature", "Fuel_Price", "CPI", "Unemployment"]
    assert features["Store"]["categories"] == ["1", "2"] or sorted(features["Store"]["categories"]) == ["1", "2"]
    assert manifest["profile"]["rows"] == len(rows())


def test_data_set_requests_are_stable_and_shifted_weather_drifts(sales_app):
    client = sales_app.test_client()
    data = rows()
    sample = predictable(data).sample(240, replace=True, random_state=0)
    for r in sample.itertuples():
        assert client.post("/api/sales/predict", json=request_of(r)).status_code == 200
    features = client.get("/api/sales/monitoring").json["versions"][0]["drift"]["features"]
    status = {n: f["status"] for n, f in features.items()}
    assert status["Store"] == status["Holiday_Flag"] == status["Temperature"] == "stable", features
    # CPI, fuel and unemployment trend over the three years: the weeks /predict answers (the later two)
    # leave the pooled training profile's early bins empty, and the monitor says so.
    assert status["CPI"] == status["Fuel_Price"] == status["Unemployment"] == "drift"
    assert features["CPI"]["out_of_range_share"] == 0.0
    for r in sample.itertuples():
        body = request_of(r) | {"Temperature": float(r.Temperature) + 35, "Store": 7}
        client.post("/api/sales/predict", json=body)              # store 7 is unknown to this model: a 400
    current = client.get("/api/sales/monitoring").json["versions"][0]
    features = current["drift"]["features"]
    assert features["Temperature"]["status"] == "drift" and features["Temperature"]["above_share"] > 0.1
    assert features["Store"]["status"] == "drift" and features["Store"]["unknown_share"] == pytest.approx(0.5)
    assert features["Holiday_Flag"]["status"] == "stable" and current["requests"] == 480


def expected_baseline(y: np.ndarray, t: int, name: str) -> float:
    """Training's /predict evaluation (services/sales/train.py), one week ahead from origin t."""
    if name == "last_value":
        return float(y[t])
    ref = y[t + 1 - 52]
    if name == "seasonal_naive":
        return float(ref)
    return float(ref * y[t + 1 - 8:t + 1].mean() / y[t + 1 - 8 - 52:t + 1 - 52].mean())


def test_actuals_give_live_wmae_beside_the_baseline(sales_app):
    from services.sales import train
    from services.sales.monitoring import HOLIDAY_WEIGHT

    assert HOLIDAY_WEIGHT == train.HOLIDAY_WEIGHT
    client = sales_app.test_client()
    manifest = sales_app.extensions["model_holder"].current.manifest
    name = manifest["metrics"]["summary_predict"]["baseline"]
    data = rows()
    data["Date"] = pd.to_datetime(data["Date"], format="%d-%m-%Y")
    data = data.sort_values(["Store", "Date"]).reset_index(drop=True)
    late = data[data["Date"] > data["Date"].max() - pd.Timedelta(weeks=20)]
    model_abs, base_abs, weights = [], [], []
    for r in late.itertuples():
        body = request_of(r) | {"Date": r.Date.strftime("%Y-%m-%d"), "Weekly_Sales": float(r.Weekly_Sales)}
        resp = client.post("/api/sales/actuals", headers=write_headers("sales"), json=body)
        assert resp.status_code == 201, resp.json
        served = client.post("/api/sales/predict", json=request_of(r) | {"Date": r.Date.strftime("%Y-%m-%d")}).json
        assert resp.json["prediction"] == pytest.approx(served["prediction"], abs=0.005)   # /predict rounds to cents
        y = data.loc[data["Store"] == r.Store, "Weekly_Sales"].to_numpy()
        t = int(np.flatnonzero(data.loc[data["Store"] == r.Store, "Date"].to_numpy() == np.datetime64(r.Date))[0]) - 1
        assert resp.json["baseline_prediction"] == pytest.approx(expected_baseline(y, t, name), rel=1e-6)
        assert resp.json["in_training"] is True and resp.json["baseline"] == name
        w = HOLIDAY_WEIGHT if r.Holiday_Flag else 1
        model_abs.append(w * abs(r.Weekly_Sales - resp.json["prediction"]))
        base_abs.append(w * abs(r.Weekly_Sales - resp.json["baseline_prediction"]))
        weights.append(w)
    live = client.get("/api/sales/monitoring").json["versions"][0]
    error = live["live_error"]
    assert error["actuals"] == len(late) >= MIN_ACTUALS and error["metric"] == "WMAE"
    assert error["model_score"] == pytest.approx(sum(model_abs) / sum(weights))
    assert error["baseline_score"] == pytest.approx(sum(base_abs) / sum(weights))
    assert error["model"].startswith("ensemble") and error["in_training"] == len(late)
    assert error["offline"]["statement"] == manifest["metrics"]["summary_predict"]["statement"]
    assert "all of them in the training data: in-sample, no evidence of live performance" in live["verdict"]
    assert len(error["by_day"]) == late["Date"].nunique()
    assert np.all(np.diff([pd.Timestamp(d["day"]).value for d in error["by_day"]]) > 0)


def test_a_week_after_the_history_uses_the_baseline_from_its_end(sales_app):
    client = sales_app.test_client()
    loaded = sales_app.extensions["model_holder"].current
    model, name = loaded.model, loaded.manifest["metrics"]["summary_predict"]["baseline"]
    last = model.last_week
    body = {"Store": 1, "Date": (last + pd.Timedelta(weeks=3)).isoformat(), "Holiday_Flag": 0, "Temperature": 60.0,
            "Fuel_Price": 3.5, "CPI": 220.0, "Unemployment": 7.0, "Weekly_Sales": 1_500_000.0}
    resp = client.post("/api/sales/actuals", headers=write_headers("sales"), json=body)
    assert resp.status_code == 201, resp.json
    assert resp.json["in_training"] is False and resp.json["detail"]["lags_from"] == "forecast"
    assert resp.json["detail"]["baseline_weeks_ahead"] == 3
    y = model.stores[1].sales
    n = len(y)
    expected = {"last_value": y[-1], "seasonal_naive": y[n - 1 + 3 - 52],
                "level_adjusted_seasonal_naive": y[n - 1 + 3 - 52] * y[-8:].mean() / y[-60:-52].mean()}[name]
    assert resp.json["baseline_prediction"] == pytest.approx(float(expected))
    assert resp.json["detail"]["forecast_prediction"] == pytest.approx(float(model.stores[1].forecast_mean[2]))
    unknown = client.post("/api/sales/actuals", headers=write_headers("sales"), json=body | {"Store": 99})
    assert unknown.status_code == 400 and unknown.json["error"]["details"][0]["field"] == "Store"
