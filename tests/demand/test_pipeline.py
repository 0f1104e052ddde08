"""The comparison, the manifest and train/serve parity, from one quick pipeline run."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from services.common.manifest import verify_files
from services.demand import pipeline
from services.demand.features import FEATURE_NAMES
from services.demand.model import DemandModel, Promotion
from tests.demand.conftest import ROOT


def test_manifest_holds_the_whole_comparison(demand_run):
    manifest, _ = demand_run
    metrics = manifest["metrics"]
    table = metrics["comparison"]
    assert set(table) == {"store_product_mean", "product_mean", "loglog_elasticity", "random_forest", "xgboost",
                          "mlp"}
    for row in table.values():
        assert set(row) == {"mae", "rmse", "wape"} and all(np.isfinite(v) and v > 0 for v in row.values())
        assert row["rmse"] >= row["mae"]
    winner = metrics["winner"]
    assert winner == min(table, key=lambda n: table[n]["mae"])
    summary = metrics["summary"]
    assert summary["model"] == winner and summary["baseline"] == "store_product_mean"
    assert summary["model_score"] == table[winner]["mae"]
    assert summary["baseline_score"] == table["store_product_mean"]["mae"]
    assert summary["beats_baseline"] == (table[winner]["mae"] < table["store_product_mean"]["mae"])
    assert ("beats" if summary["beats_baseline"] else "does NOT beat") in summary["statement"]
    assert [r["model"] for r in manifest["comparison_table"] if r["winner"]] == [winner]
    hold = metrics["holdout"]
    assert hold["weeks"] == 20 and hold["fit_rows"] + hold["holdout_rows"] == 8547
    assert hold["fit_first_week"] < hold["first_week"] <= hold["last_week"]


def test_pipeline_logs_every_step_with_counts_and_timing(demand_run):
    manifest, _ = demand_run
    steps = manifest["pipeline"]["steps"]
    assert [s["step"] for s in steps] == ["validate", "load", "features", "compare"]  # publish is logged after the manifest is written
    assert all(s["seconds"] >= 0 for s in steps)
    assert steps[0]["rows"] == 8547 and steps[1]["warehouse_rows"] == 8547
    assert manifest["pipeline"]["validation"].startswith("validation PASSED")


def test_artifact_files_are_hashed_and_serving_json_only(demand_run):
    manifest, folder = demand_run
    verify_files(folder, manifest)
    art = json.loads((folder / "demand.json").read_text())
    assert art["feature_names"] == FEATURE_NAMES and art["model"] == manifest["metrics"]["winner"]
    if art["kind"] == "onnx":
        assert "model.onnx" in manifest["files"]
        assert manifest["serving"]["onnx_check"]["max_abs_diff_units"] < 0.05
    assert not any(name.endswith((".pkl", ".joblib")) for name in manifest["files"])


def test_serving_rows_equal_pipeline_rows(demand_run):
    """One feature function: the served model builds exactly the rows the final fit used."""
    manifest, folder = demand_run
    model = DemandModel(folder, manifest)
    frame = pipeline.validate(pipeline.DATA, None)[0]
    frame["week_end_date"] = pd.to_datetime(frame["week_end_date"])
    enc = pipeline.fit_encodings(frame)
    sample = frame.sample(25, random_state=0)
    expected = pipeline.encode(sample, enc)
    for i, r in enumerate(sample.itertuples()):
        row = model.rows(r.store_id, r.product_id, r.week_end_date.date(), np.array([r.price]), r.base_price,
                         np.array([r.display]), np.array([r.feature]), np.array([r.tpr]))
        np.testing.assert_allclose(row[0], expected[i], rtol=1e-5, atol=1e-5)


def test_price_and_promotion_move_the_prediction(demand_run):
    manifest, folder = demand_run
    model = DemandModel(folder, manifest)
    if model.kind == "lookup":
        pytest.skip("a mean baseline won; it ignores price by design")
    store, product = "25027", "7192100337"
    from datetime import date
    cheap, dear = model.units(store, product, date(2011, 6, 15), np.array([4.5, 7.4]), 6.59, Promotion(0, 0, None))
    assert cheap > dear  # the data's price elasticity is strongly negative
    plain = model.units(store, product, date(2011, 6, 15), np.array([6.59]), 6.59, Promotion(0, 0, 0))[0]
    promoted = model.units(store, product, date(2011, 6, 15), np.array([6.59]), 6.59, Promotion(1, 1, 0))[0]
    assert promoted > plain


def test_train_is_an_alias_of_the_pipeline():
    out = subprocess.run([sys.executable, "-m", "services.demand.train", "--help"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and "--holdout-weeks" in out.stdout and "--database-url" in out.stdout


def test_serving_imports_no_training_library():
    code = ("import sys, services.demand.api, services.demand.model; "
            "bad = [m for m in ('sklearn', 'xgboost', 'lightgbm', 'joblib', 'pandas', 'pandera', 'sqlalchemy') "
            "if m in sys.modules]; print(','.join(bad)); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"serving imported {out.stdout.strip()}"
