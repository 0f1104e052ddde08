"""GET /api/demand/history: actual weeks of a store x product and the test window's held-out predictions,
served from the artifact (history.json), checked against the shipped data file and the manifest's test MAE."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from services.demand.pipeline import DATA

STORE, PRODUCT = "25027", "7192100337"


@pytest.fixture
def client(demand_app):
    return demand_app.test_client()


def raw_weeks(store: str, product: str) -> pd.DataFrame:
    raw = pd.read_csv(DATA)
    rows = raw[(raw["STORE_NUM"].astype(str) == store) & (raw["UPC"].astype(str) == product)].copy()
    # WEEK_END_DATE is an Excel serial day number in the source file
    rows["week"] = (pd.Timestamp("1899-12-30") + pd.to_timedelta(rows["WEEK_END_DATE"], unit="D")).dt.date.astype(str)
    return rows.sort_values("week")


def test_history_is_the_pairs_weeks_in_the_data(client):
    resp = client.get(f"/api/demand/history?store_id={STORE}&product_id={PRODUCT}&weeks=520")
    assert resp.status_code == 200, resp.json
    body = resp.json
    raw = raw_weeks(STORE, PRODUCT)
    assert body["total_weeks"] == len(raw) == len(body["weeks"]) >= 10   # the data is sparse: 1..24 weeks a pair
    assert [w["week_ending"] for w in body["weeks"]] == raw["week"].tolist()
    assert [w["units"] for w in body["weeks"]] == raw["UNITS"].tolist()
    assert [w["price"] for w in body["weeks"]] == pytest.approx(raw["PRICE"].tolist())
    assert [w["display"] for w in body["weeks"]] == raw["DISPLAY"].tolist()
    # the latest N weeks only
    latest = client.get(f"/api/demand/history?store_id={STORE}&product_id={PRODUCT}&weeks=5").json
    assert latest["weeks"] == body["weeks"][-5:] and latest["total_weeks"] == len(raw)


def test_held_out_points_are_the_test_window_and_score_as_the_manifest_says(client, demand_run):
    manifest, artifact = demand_run
    body = client.get(f"/api/demand/history?store_id={STORE}&product_id={PRODUCT}").json
    test = body["test"]
    metrics = manifest["metrics"]
    assert test["model"] == metrics["choice"]["chosen"] == metrics["summary"]["model"]
    assert test["baseline"] == metrics["summary"]["baseline"]
    points = test["points"]
    assert points and all(test["first_week"] <= p["week_ending"] <= test["last_week"] for p in points)
    actual = {w["week_ending"]: w["units"] for w in body["weeks"]}
    assert all(p["actual"] == actual[p["week_ending"]] for p in points)
    # over every pair, the stored held-out predictions give the manifest's test MAE of both models
    table = json.loads((artifact / "history.json").read_text())
    weeks = {k: {r[0]: r[1] for r in v} for k, v in table["weeks"].items()}
    rows = [(weeks[k][w], m, b) for k, v in table["test"]["predictions"].items() for w, m, b in v]
    a, m, b = (np.array(c, dtype=float) for c in zip(*rows))
    assert len(rows) == metrics["holdout"]["test_rows"]
    assert np.mean(np.abs(a - m)) == pytest.approx(metrics["test"][test["model"]]["mae"], rel=1e-4)
    assert np.mean(np.abs(a - b)) == pytest.approx(metrics["test"][test["baseline"]]["mae"], rel=1e-4)


def test_history_errors_name_the_field(client):
    unknown = client.get(f"/api/demand/history?store_id=1&product_id={PRODUCT}")
    assert unknown.status_code == 400
    assert unknown.json["error"]["details"][0]["field"] == "store_id"
    both = client.get("/api/demand/history?store_id=x&product_id=y&weeks=0").json["error"]["details"]
    assert {d["field"] for d in both} == {"store_id", "product_id", "weeks"}


def test_an_artifact_without_history_answers_404_and_still_serves(demand_artifact, tmp_path):
    """A version trained before /history existed (rollback) loads and predicts; /history says why it cannot."""
    from services.common.store import ModelStore
    from services.demand.api import create_app
    from tests.conftest import make_settings

    old = tmp_path / "old"
    shutil.copytree(demand_artifact, old)
    (old / "history.json").unlink()
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["files"] = {k: v for k, v in manifest["files"].items() if k != "history.json"}
    (old / "manifest.json").write_text(json.dumps(manifest))
    uri = (tmp_path / "store").as_uri()
    ModelStore(uri, tmp_path / "cache").publish("demand", old)
    app = create_app(make_settings(uri, tmp_path), start_model_refresh=False)
    holder = app.extensions["model_holder"]
    assert holder.refresh(), holder.last_error
    client = app.test_client()
    resp = client.get(f"/api/demand/history?store_id={STORE}&product_id={PRODUCT}")
    assert resp.status_code == 404 and "retrain" in resp.json["error"]["message"]
    assert client.get("/api/demand/catalog").status_code == 200
