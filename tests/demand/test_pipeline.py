"""The training flow from small pipeline runs: plan, choice on validation only, served == chosen,
the monotone price response through the served artifact, totals, byte-identical retraining."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import numpy as np
import pandas as pd
import pytest

from services.common.manifest import verify_files
from services.common.reproducibility import compare_builds
from services.demand import models, pipeline
from services.demand.features import FEATURE_NAMES
from services.demand.model import DemandModel, Promotion
from tests.demand.conftest import DATA, ROOT, SMALL_RUN

CANDIDATES = ["lightgbm_tweedie", "lightgbm_poisson", "xgboost_poisson", "blend_lightgbm_tweedie_promo",
              "hierarchical_elasticity", "joint_pooled_elasticity", "joint_hierarchical_elasticity"]
BASELINES = ["store_product_mean", "promo_adjusted_mean", "pooled_elasticity"]


def shipped_rows() -> pd.DataFrame:
    frame, _ = pipeline.validate(DATA, None)
    frame["week_end_date"] = pd.to_datetime(frame["week_end_date"])
    for column in ("store_id", "product_id", "manufacturer"):
        frame[column] = frame[column].astype(str)
    return frame.sort_values(["week_end_date", "store_id", "product_id"]).reset_index(drop=True)


def run_into(tmp_path, name, *extra):
    out = tmp_path / name
    manifest = pipeline.run([*SMALL_RUN, "--output", str(out), "--database-url", f"sqlite:///{tmp_path / name}.db",
                             "--report", str(tmp_path / f"{name}.txt"), *extra])
    return manifest, out


def test_plan_tests_on_the_latest_weeks_after_every_validation_window(demand_run):
    metrics = demand_run[0]["metrics"]
    folds = metrics["split_plan"]["folds"]
    validation = [f for f in folds if f["role"] == "validation"]
    (test,) = [f for f in folds if f["role"] == "test"]
    assert len(validation) == 3 and metrics["split_plan"]["horizon"] == 20
    assert test["predict"]["rows"] == 1358
    assert test["predict"]["first"].startswith("2011-03-30") and test["predict"]["last"].startswith("2011-08-10")
    assert test["fit"]["last"] < test["predict"]["first"]
    assert all(f["predict"]["last"] < test["predict"]["first"] for f in validation)
    assert all(f["fit"]["last"] < f["predict"]["first"] for f in validation)
    # non-overlapping validation windows: every validation row is scored once
    assert sum(f["predict"]["rows"] for f in validation) == metrics["validation"]["promo_adjusted_mean"]["n"]


def test_manifest_holds_every_table_and_the_choice_is_the_validation_best(demand_run):
    metrics = demand_run[0]["metrics"]
    for group in ("validation", "test"):
        assert list(metrics[group]) == CANDIDATES + BASELINES
        for row in metrics[group].values():
            assert {"mae", "wape", "rmse", "bias_pct", "n"} <= set(row) and row["rmse"] >= row["mae"] > 0
    assert set(metrics["validation_by_window"]) == set(CANDIDATES + BASELINES)
    assert all(len(w) == 3 for w in metrics["validation_by_window"].values())
    choice = metrics["choice"]
    val = metrics["validation"]
    best = min(CANDIDATES, key=lambda n: val[n]["mae"])
    strongest = min(BASELINES, key=lambda n: val[n]["mae"])
    assert choice["best_candidate"] == best and choice["strongest_baseline_on_validation"] == strongest
    assert choice["chosen"] == (best if val[best]["mae"] < val[strongest]["mae"] else strongest)
    assert choice["validation_scores"] == {n: val[n]["mae"] for n in CANDIDATES + BASELINES}
    assert choice["reason"] and choice["rule"]


def test_target_and_totals_are_reported_with_their_numbers(demand_run):
    metrics = demand_run[0]["metrics"]
    chosen = metrics["choice"]["chosen"]
    target, test = metrics["target"], metrics["test"]
    assert target["model_score"] == test[chosen]["mae"]
    assert target["baseline_score"] == test["promo_adjusted_mean"]["mae"]
    assert target["ratio"] == pytest.approx(test[chosen]["mae"] / test["promo_adjusted_mean"]["mae"])
    assert target["met"] == (target["ratio"] <= 0.75)
    assert ("target met" if target["met"] else "target NOT met") in target["statement"]
    totals = metrics["total_units"]
    assert totals["bias_pct"] == pytest.approx(test[chosen]["bias_pct"])
    assert totals["within_tolerance"] == (abs(totals["bias_pct"]) <= 5.0)
    frame = shipped_rows()
    assert totals["actual_units"] == frame.loc[frame["week_end_date"] >= "2011-03-30", "units"].sum()
    summary = metrics["summary"]
    assert summary["model"] == chosen and summary["baseline"] in BASELINES
    assert summary["baseline_score"] == min(test[b]["mae"] for b in BASELINES if b != chosen)


def chosen_refit(manifest, frame):
    """The manifest's chosen model, refitted here on `frame`, independently of the pipeline."""
    kept = tuple(manifest["training"]["effects_kept"])
    models_by_name = {m.name: m for m in [*models.candidates(42, small=True, effects=kept), *models.baselines()]}
    return models_by_name[manifest["metrics"]["choice"]["chosen"]].fit(frame)


def test_served_model_is_the_chosen_one_refitted_on_every_week(demand_run):
    manifest, folder = demand_run
    verify_files(folder, manifest)
    chosen = manifest["metrics"]["choice"]["chosen"]
    art = json.loads((folder / "demand.json").read_text())
    assert art["model"] == manifest["serving"]["model"] == chosen
    assert art["feature_names"] == FEATURE_NAMES
    assert not any(name.endswith((".pkl", ".joblib")) for name in manifest["files"])
    # refit the chosen model here, independently of the pipeline, and compare every row
    frame = shipped_rows()
    native = chosen_refit(manifest, frame).predict(frame.drop(columns=["units"]))
    served = pipeline.served_units(DemandModel(folder, manifest), frame)
    np.testing.assert_allclose(served, native, rtol=1e-4, atol=1e-4)


def test_changing_the_test_targets_leaves_the_choice_unchanged(demand_run, tmp_path):
    """The test window takes no part in the choice: scramble its units, rerun, same choice."""
    raw = pd.read_csv(DATA, dtype=str)
    first_test_week = (pd.Timestamp("2011-03-30") - pd.Timestamp("1899-12-30")).days   # Excel serial day
    late = raw["WEEK_END_DATE"].astype(int) >= first_test_week
    assert late.sum() == 1358
    rng = np.random.default_rng(0)
    raw.loc[late, "UNITS"] = rng.permutation(raw.loc[late, "UNITS"].astype(int).to_numpy() * 3 + 1).astype(str)
    path = tmp_path / "scrambled.csv"
    raw.to_csv(path, index=False)
    manifest, _ = run_into(tmp_path, "scrambled", "--data", str(path))
    before, after = demand_run[0]["metrics"], manifest["metrics"]
    assert after["test"] != before["test"]
    assert after["validation"] == before["validation"]
    assert after["choice"] == before["choice"]


def test_retraining_with_the_same_seed_gives_the_same_bytes(demand_run, tmp_path):
    _, again = run_into(tmp_path, "again")
    assert compare_builds(demand_run[1], again) == []


def test_every_store_product_is_monotone_in_price_through_the_served_artifact(demand_artifact, demand_run):
    """Every store x product of the catalog, every fixed setting of the flags and TPR derived from the
    price: units along a fine price grid (beyond the prices seen) never rise. Through DemandModel.units,
    the call the predict view makes."""
    model = DemandModel(demand_artifact, demand_run[0])
    settings = [Promotion(d, f, t) for d in (0, 1) for f in (0, 1) for t in (0, 1)] + [Promotion(0, 0, None),
                                                                                     Promotion(1, 1, None)]
    checked, rises = 0, []
    for product in model.products:
        low, high = model.seen_prices(product)
        prices = np.linspace(0.3 * low, 2.0 * high, 60)
        for store in model.stores:
            for week in (date(2011, 2, 2), date(2011, 7, 6)):
                for promo in settings:
                    units = model.units(store, product, week, prices, model.usual_price(product), promo)
                    checked += 1
                    if np.any(np.diff(units) > 0):
                        rises.append((store, product, week, promo, float(np.diff(units).max())))
    assert checked == len(model.products) * len(model.stores) * 2 * len(settings) == 12 * 77 * 2 * 10
    assert rises == [], f"{len(rises)} curves rise, e.g. {rises[:3]}"
    assert demand_run[0]["metrics"]["monotonicity"]["violations"] == 0


def test_the_issue_example_no_longer_sells_more_at_the_higher_price(demand_artifact, demand_run):
    model = DemandModel(demand_artifact, demand_run[0])
    cheap, dear = model.units("367", "1111087395", date(2011, 6, 15), np.array([2.49, 3.19]), 3.19,
                              Promotion(0, 0, 0))
    assert cheap > dear


def test_serving_rows_equal_training_rows(demand_run):
    """One feature function: the served model builds exactly the rows the final fit predicts from."""
    manifest, folder = demand_run
    served = DemandModel(folder, manifest)
    frame = shipped_rows()
    enc = chosen_refit(manifest, frame).encodings_     # netted levels when a joint curve is chosen
    sample = frame.sample(40, random_state=0)
    expected = models.matrix(sample, enc, enc.rows(sample))
    from services.demand.features import feature_matrix, levels
    for i, r in enumerate(sample.itertuples()):
        row = feature_matrix(**levels(served.encodings, r.store_id, r.product_id), price=r.price,
                             base_price=r.base_price, usual_price=served.usual_price(r.product_id), display=r.display,
                             feature=r.feature, tpr=r.tpr, iso_week=r.week_end_date.isocalendar()[1])
        np.testing.assert_array_equal(row[0], expected[i])


def test_price_and_promotion_move_the_prediction(demand_run):
    manifest, folder = demand_run
    model = DemandModel(folder, manifest)
    if model.kind == "store_product_mean":
        pytest.skip("the store x product mean was chosen; it ignores price by design")
    store, product = "25027", "7192100337"
    cheap, dear = model.units(store, product, date(2011, 6, 15), np.array([4.5, 7.4]), 6.59, Promotion(0, 0, None))
    assert cheap > dear
    plain = model.units(store, product, date(2011, 6, 15), np.array([6.59]), 6.59, Promotion(0, 0, 0))[0]
    promoted = model.units(store, product, date(2011, 6, 15), np.array([6.59]), 6.59, Promotion(1, 1, 0))[0]
    assert promoted > plain


def test_pipeline_logs_its_steps_with_data_counts_only(demand_run):
    manifest, _ = demand_run
    steps = manifest["pipeline"]["steps"]
    assert [s["step"] for s in steps] == ["validate", "load", "backtest", "export"]
    assert steps[0]["rows"] == 8547 and steps[1]["warehouse_rows"] == 8547
    assert not any("seconds" in s or "inserted" in s for s in steps)  # run-dependent: logged, not in the manifest
    assert manifest["pipeline"]["validation"].startswith("validation PASSED")


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
