"""The forecast endpoints against a real (small) trained artifact."""
from __future__ import annotations

import subprocess
import sys

import pytest

from services.common.store import ModelStore
from services.forecast.api import create_app
from tests.conftest import ROOT, make_settings

EXAMPLE = {"team_a": "Morocco", "team_b": "France", "stadium": "Grand Stade de Marrakech", "time": "Night",
           "stage": "Semi-Final"}


@pytest.fixture(scope="module")
def client(forecast_artifact, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("forecast-api")
    store_uri = (tmp / "store").as_uri()
    ModelStore(store_uri, tmp / "cache").publish("forecast", forecast_artifact)
    app = create_app(make_settings(store_uri, tmp), start_model_refresh=False)
    assert app.extensions["model_holder"].refresh()
    return app.test_client()


def predict(client, **change):
    return client.post("/api/forecast/predict", json={**EXAMPLE, **change})


def test_docs_example(client):
    resp = predict(client)
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert body["stadium"] == "Marrakesh Stadium" and body["stage"] == "Semi-Finals"
    assert body["stadium_capacity"] == 45240 and body["kickoff_hour"] == 21.0
    lo, hi = body["confidence_interval"]
    assert 0 <= lo <= body["predicted_attendance"] <= hi <= body["stadium_capacity"]
    assert body["fill_rate"] == pytest.approx(body["predicted_attendance"] / 45240, abs=1e-4)
    assert body["interval_level"] == 0.9 and body["model_version"] and body["warnings"] == []
    assert body["model"] in ("random_forest", "gradient_boosting")


@pytest.mark.parametrize("stadium,expected", [
    ("Grand Stade de Marrakech", "Marrakesh Stadium"),
    ("marrakesh stadium", "Marrakesh Stadium"),
    ("Complexe Sportif Prince Moulay Abdellah", "Prince Moulay Abdellah Stadium"),
    ("Stade Mohammed V", "Stade Mohammed V"),
    ("Grand Stade de Tanger", "Tangier Grand Stadium"),
    ("Stade Adrar", "Adrar Stadium"),
])
def test_stadium_aliases(client, stadium, expected):
    resp = predict(client, stadium=stadium)
    assert resp.status_code == 200, resp.json
    assert resp.json["stadium"] == expected and resp.json["warnings"] == []


def test_city_resolves_to_its_largest_stadium_with_a_warning(client):
    body = predict(client, stadium="Rabat").json
    assert body["stadium"] == "Prince Moulay Abdellah Stadium" and body["stadium_capacity"] == 69500
    assert any("city" in w for w in body["warnings"])


def test_unknown_team_gets_neutral_popularity_and_a_warning(client):
    resp = predict(client, team_b="Atlantis")
    assert resp.status_code == 200
    assert any("Atlantis" in w and "neutral" in w for w in resp.json["warnings"])


def test_team_and_time_spellings(client):
    a = predict(client, team_b="france", time="21:00", stage="semi-finals").json
    b = predict(client).json
    assert a["predicted_attendance"] == b["predicted_attendance"]
    swapped = predict(client, team_a="France", team_b="Morocco").json
    assert swapped["predicted_attendance"] == b["predicted_attendance"]


def test_inputs_change_the_prediction(client):
    base = predict(client).json
    bigger = predict(client, stadium="Prince Moulay Abdellah Stadium").json
    assert bigger["stadium_capacity"] != base["stadium_capacity"]
    assert bigger["predicted_attendance"] != base["predicted_attendance"]


@pytest.mark.parametrize("stadium", ["Adrar Stadium", "Al Medina Stadium", "Estadio do Maracana", "Pocitos"])
@pytest.mark.parametrize("stage", ["Group Stage", "Round of 16", "Final"])
@pytest.mark.parametrize("time", ["Afternoon", "Night", "12:00"])
def test_prediction_and_interval_within_capacity(client, stadium, stage, time):
    body = predict(client, stadium=stadium, stage=stage, time=time, team_b="Brazil").json
    lo, hi = body["confidence_interval"]
    assert 0 <= lo <= body["predicted_attendance"] <= hi <= body["stadium_capacity"]
    assert 0 <= body["fill_rate"] <= 1


def test_unknown_stadium_is_400_listing_the_known_ones(client):
    resp = predict(client, stadium="Stade de Nulle Part")
    assert resp.status_code == 400
    detail = resp.json["error"]["details"][0]
    assert detail["field"] == "stadium"
    assert "Marrakesh Stadium" in detail["problem"] and "Stade Mohammed V" in detail["problem"]


@pytest.mark.parametrize("change,field", [
    ({"time": "25:00"}, "time"),
    ({"time": "Morning"}, "time"),
    ({"stage": "Quarter"}, "stage"),
    ({"date": "14-01-2026"}, "date"),
    ({"date": "2026-02-30"}, "date"),
    ({"team_a": ""}, "team_a"),
    ({"team_a": "   "}, "team_a"),
    ({"team_b": 7}, "team_b"),
    ({"team_b": "Morocco"}, "team_b"),
    ({"stadium": None}, "stadium"),
    ({"colour": "red"}, "colour"),
])
def test_predict_400_names_the_field(client, change, field):
    resp = predict(client, **change)
    assert resp.status_code == 400, resp.json
    assert resp.json["error"]["details"][0]["field"] == field


def test_missing_field_and_non_json(client):
    resp = client.post("/api/forecast/predict", json={k: v for k, v in EXAMPLE.items() if k != "stage"})
    assert resp.status_code == 400 and resp.json["error"]["details"][0]["field"] == "stage"
    assert client.post("/api/forecast/predict", data="x", content_type="text/plain").status_code == 415


def test_date_is_accepted(client):
    resp = predict(client, date="2026-01-14")
    assert resp.status_code == 200


def test_stadiums_and_teams(client):
    stadiums = client.get("/api/forecast/stadiums").json
    names = {s["name"]: s for s in stadiums["stadiums"]}
    assert names["Marrakesh Stadium"]["capacity"] == 45240 and names["Marrakesh Stadium"]["hosts"] == ["Morocco"]
    assert stadiums["aliases"]["grand stade de marrakech"] == "Marrakesh Stadium"
    teams = client.get("/api/forecast/teams").json
    known = {t["name"] for t in teams["teams"]}
    assert {"Morocco", "France", "Senegal"} <= known
    assert teams["neutral"]["matches"] == 0 and teams["model_version"]


def test_model_manifest_and_openapi(client):
    manifest = client.get("/api/forecast/model").json
    assert "summary" in manifest["metrics"] and "latest_tournaments" in manifest["metrics"]
    paths = client.get("/api/forecast/openapi.json").json["paths"]
    assert {"/api/forecast/predict", "/api/forecast/stadiums", "/api/forecast/teams"} <= set(paths)


def test_serving_imports_no_training_library():
    code = ("import sys, services.forecast.api, services.forecast.model; "
            "bad = [m for m in ('sklearn', 'pandas', 'pickle_training', 'joblib', 'xgboost', 'lightgbm', "
            "'services.forecast.dataset', 'services.forecast.train') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
