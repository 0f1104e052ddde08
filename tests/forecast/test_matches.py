"""GET /api/forecast/matches: real crowds of comparable past matches, served from the artifact's match table
and checked against the shipped data (through the training loader)."""
from __future__ import annotations

import json
import shutil

import pytest

from services.common.store import ModelStore
from services.forecast import dataset
from services.forecast.api import create_app
from tests.conftest import make_settings


def app_over(artifact, tmp):
    uri = (tmp / "store").as_uri()
    ModelStore(uri, tmp / "cache").publish("forecast", artifact)
    app = create_app(make_settings(uri, tmp), start_model_refresh=False)
    assert app.extensions["model_holder"].refresh()
    return app.test_client()


@pytest.fixture(scope="module")
def client(forecast_artifact, tmp_path_factory):
    return app_over(forecast_artifact, tmp_path_factory.mktemp("forecast-matches"))


@pytest.fixture(scope="module")
def afcon():
    raw = dataset.load_matches(dataset.DATA_DIR, 150)
    return raw[raw["competition"] == "afcon"]


def test_the_stadiums_matches_are_the_real_crowds(client, afcon):
    resp = client.get("/api/forecast/matches?stadium=Grand Stade de Marrakech&limit=100")
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert body["stadium"] == "Marrakesh Stadium" and body["competition"] == "afcon"
    there = afcon[afcon["stadium"] == "Marrakesh Stadium"].sort_values("kickoff", ascending=False)
    assert body["total"] == len(there) == len(body["matches"]) > 0
    assert [m["attendance"] for m in body["matches"]] == [int(a) for a in there["attendance"]]
    assert [m["day"] for m in body["matches"]] == [d.date().isoformat() for d in there["day"]]
    assert all(m["why"] == ["stadium"] and m["capacity"] == body["capacity"] == 45240 for m in body["matches"])
    assert body["matches"][0]["fill_rate"] == pytest.approx(there["attendance"].iloc[0] / 45240, abs=1e-4)


def test_matches_of_the_teams_and_the_stage_are_included_and_labelled(client, afcon):
    body = client.get("/api/forecast/matches?stadium=Marrakech&team_a=morocco&team_b=Mali&stage=group&limit=100").json
    assert body["teams"] == {"team_a": "Morocco", "team_b": "Mali"} and body["stage"] == "Group Stage"
    # every AFCON match is a group match of the latest tournament here, so every one is comparable
    assert body["total"] == len(afcon)
    morocco = [m for m in body["matches"] if "Morocco" in (m["team_a"], m["team_b"])]
    assert morocco and all("team_a" in m["why"] for m in morocco)
    assert all("stage" in m["why"] for m in body["matches"])
    limited = client.get("/api/forecast/matches?stadium=Marrakech&team_a=Morocco&limit=2").json
    assert len(limited["matches"]) == 2 and limited["total"] > 2
    days = [m["day"] for m in limited["matches"]]
    assert days == sorted(days, reverse=True)   # newest first


def test_unknown_stadium_and_bad_limit_name_their_fields(client):
    resp = client.get("/api/forecast/matches?stadium=Nowhere Arena&limit=0")
    assert resp.status_code == 400
    assert [d["field"] for d in resp.json["error"]["details"]] == ["limit"]
    unknown = client.get("/api/forecast/matches?stadium=Nowhere Arena").json["error"]["details"][0]
    assert unknown["field"] == "stadium" and "did you mean" in unknown["problem"]
    assert unknown["problem"].count(";") <= 5   # a few suggestions, never the whole list


def test_an_artifact_without_the_match_table_answers_404_and_still_predicts(forecast_artifact, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(forecast_artifact, old)
    tables = json.loads((old / "tables.json").read_text())
    del tables["matches"]
    (old / "tables.json").write_text(json.dumps(tables))
    from services.common.manifest import sha256_file

    manifest = json.loads((old / "manifest.json").read_text())
    manifest["files"]["tables.json"]["sha256"] = sha256_file(old / "tables.json")
    (old / "manifest.json").write_text(json.dumps(manifest))
    client = app_over(old, tmp_path)
    resp = client.get("/api/forecast/matches?stadium=Marrakech")
    assert resp.status_code == 404 and "retrain" in resp.json["error"]["message"]
    assert client.post("/api/forecast/predict", json={"team_a": "Morocco", "team_b": "Mali", "stadium": "Marrakech",
                                                      "time": "Night", "stage": "Final"}).status_code == 200
