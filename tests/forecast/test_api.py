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
# The seed client's own payload (issue 17).
FINAL = {"team_a": "Morocco", "team_b": "Senegal", "stadium": "Stade Mohamed V (Casablanca)", "time": "20:00",
         "stage": "Final", "date": "2026-01-18"}


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
    assert body["competition"] == "afcon" and body["tournament"] == "AFCON 2025"
    assert body["match_day"] == "2026-01-01"          # no date: the day after the last matchday in the data
    manifest = client.get("/api/forecast/model").json
    assert body["model"] == manifest["metrics"]["segments"]["afcon"]["choice"]["chosen"]


def test_seed_final_payload_is_answered_and_the_stage_moves_it(client):
    resp = client.post("/api/forecast/predict", json=FINAL)
    assert resp.status_code == 200, resp.json
    final = resp.json
    assert final["stadium"] == "Stade Mohammed V" and final["stadium_capacity"] == 45000
    assert any("matched to Stade Mohammed V" in w for w in final["warnings"])
    group = client.post("/api/forecast/predict", json={**FINAL, "stage": "Group Stage"}).json
    # A final fills more of the seats a group match leaves empty (learned from World Cup knockouts).
    assert final["predicted_attendance"] > group["predicted_attendance"]
    lo, hi = final["confidence_interval"]
    assert 0 <= lo <= final["predicted_attendance"] <= hi <= 45000
    # Morocco's earlier crowds count: the same final without the host nation draws fewer.
    neutral = client.post("/api/forecast/predict", json={**FINAL, "team_a": "Mali", "team_b": "Zambia"}).json
    assert final["predicted_attendance"] > neutral["predicted_attendance"]


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


@pytest.mark.parametrize("stadium,expected", [
    ("Stade Mohamed V (Casablanca)", "Stade Mohammed V"),
    ("stade mohammed 5 casablanca", "Stade Mohammed V"),
    ("Grand Stade Marrakesh", "Marrakesh Stadium"),
    ("Prince Moulay Abdallah Stadium", "Prince Moulay Abdellah Stadium"),
])
def test_stadium_names_as_clients_send_them(client, stadium, expected):
    resp = predict(client, stadium=stadium)
    assert resp.status_code == 200, resp.json
    assert resp.json["stadium"] == expected
    assert any(f"matched to {expected}" in w for w in resp.json["warnings"])


def test_city_resolves_to_its_largest_stadium_with_a_warning(client):
    body = predict(client, stadium="Rabat").json
    assert body["stadium"] == "Prince Moulay Abdellah Stadium" and body["stadium_capacity"] == 69500
    assert any("city" in w for w in body["warnings"])


def test_unknown_team_counts_as_average_with_a_warning(client):
    resp = predict(client, team_b="Atlantis")
    assert resp.status_code == 200
    assert any("Atlantis" in w and "average team" in w for w in resp.json["warnings"])


@pytest.mark.parametrize("field,value", [("team_a", "Mor\x00occo"), ("team_b", "Fra\x1bnce"),
                                         ("stadium", "Stade\u2028Adrar"), ("team_b", "France\x7f")])
def test_control_characters_are_refused(client, field, value):
    resp = predict(client, **{field: value})
    assert resp.status_code == 400, resp.json
    detail = resp.json["error"]["details"][0]
    assert detail["field"] == field and "control" in detail["problem"]
    assert value not in resp.get_data(as_text=True)


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


@pytest.mark.parametrize("stadium", ["Adrar Stadium", "Al Medina Stadium", "Estadio Centenario", "Pocitos"])
@pytest.mark.parametrize("stage", ["Group Stage", "Round of 16", "Final"])
@pytest.mark.parametrize("time", ["Afternoon", "Night", "12:00"])
def test_prediction_and_interval_within_capacity(client, stadium, stage, time):
    body = predict(client, stadium=stadium, stage=stage, time=time, team_b="Brazil").json
    lo, hi = body["confidence_interval"]
    assert 0 <= lo <= body["predicted_attendance"] <= hi <= body["stadium_capacity"]
    assert 0 <= body["fill_rate"] <= 1


def test_unknown_stadium_is_a_short_400_with_at_most_five_suggestions(client):
    resp = predict(client, stadium="Stade de Nulle Part")
    assert resp.status_code == 400
    detail = resp.json["error"]["details"][0]
    assert detail["field"] == "stadium" and "did you mean" in detail["problem"]
    suggestions = detail["problem"].split("did you mean: ")[1].split("?")[0].split("; ")
    assert 1 <= len(suggestions) <= 5
    known = {s["name"] for s in client.get("/api/forecast/stadiums").json["stadiums"]}
    assert set(suggestions) <= known
    assert len(resp.get_data()) < 600 and "GET /api/forecast/stadiums" in detail["problem"]


def test_a_date_outside_the_tournament_is_refused(client):
    for day in ("2025-12-30", "2026-06-01"):
        resp = predict(client, date=day)
        assert resp.status_code == 400 and resp.json["error"]["details"][0]["field"] == "date"


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
    assert "summary" in manifest["metrics"] and set(manifest["metrics"]["verdicts"]) == {"afcon", "world_cup"}
    paths = client.get("/api/forecast/openapi.json").json["paths"]
    assert {"/api/forecast/predict", "/api/forecast/stadiums", "/api/forecast/teams"} <= set(paths)


def test_serving_imports_no_training_library():
    code = ("import sys, services.forecast.api, services.forecast.model; "
            "bad = [m for m in ('sklearn', 'pandas', 'pickle_training', 'joblib', 'xgboost', 'lightgbm', "
            "'services.forecast.dataset', 'services.forecast.train') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
