"""Training on a small slice: reproducible, honest hold-out, artifact the server can load."""
from __future__ import annotations

import json

import numpy as np
import pytest

from services.common.manifest import verify_files
from services.sales import train
from services.sales.model import SalesModel


def test_same_seed_gives_same_models(sales_artifact, tmp_path):
    again = tmp_path / "again"
    train.main(["--stores", "1,2", "--no-publish", "--quiet", "--output", str(again)])
    first = json.loads((sales_artifact / "manifest.json").read_text())
    second = json.loads((again / "manifest.json").read_text())
    assert first["metrics"] == second["metrics"]
    for name in ("random_forest.onnx", "xgboost.onnx", "history.json", "arima.json"):
        assert first["files"][name]["sha256"] == second["files"][name]["sha256"], name


def test_holdout_is_the_last_13_weeks_and_never_fitted():
    frame = train.load_data(stores=[1])
    weeks = sorted(frame["Date"].unique())
    metrics = train.evaluate(frame, seed=1, quiet=True)
    assert metrics["holdout"]["first_week"] == str(weeks[-13])[:10]
    assert metrics["holdout"]["weeks"] == 13
    # A model that had seen the hold-out would be near perfect on it; ours is not.
    assert metrics["one_step"]["random_forest"]["mape"] > 0.5


def test_artifact_verifies_and_loads(sales_artifact):
    manifest = json.loads((sales_artifact / "manifest.json").read_text())
    verify_files(sales_artifact, manifest)
    assert set(manifest["files"]) == {"random_forest.onnx", "xgboost.onnx", "history.json", "arima.json"}
    model = SalesModel(sales_artifact, manifest)
    assert model.store_ids == [1, 2]
    assert np.all(model.stores[1].forecast_lower < model.stores[1].forecast_upper)


def test_serving_features_match_training_features(sales_artifact):
    """The row serving builds for a week in the history equals the row training built."""
    frame = train.load_data(stores=[1, 2])
    store_means = frame.groupby("Store")["Weekly_Sales"].mean().to_dict()
    x, rows = train.make_rows(frame, store_means)
    manifest = json.loads((sales_artifact / "manifest.json").read_text())
    model = SalesModel(sales_artifact, manifest)
    last = rows.index[-1]
    r = rows.loc[last]
    out = model.predict(int(r.Store), r.Date.date(), holiday=int(r.Holiday_Flag), temperature=r.Temperature,
                        fuel_price=r.Fuel_Price, cpi=r.CPI, unemployment=r.Unemployment)
    expected = float(model.random_forest.run(x[last:last + 1])[0, 0])
    assert out["components"]["random_forest"] == pytest.approx(expected)
