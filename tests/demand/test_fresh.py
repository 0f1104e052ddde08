"""The fresh-data check: trained on the weeks up to a date, scored on the later shipped weeks by
`report --fresh demand FILE`, recomputed here from the served artifact and the raw CSV."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from services.common.fresh import FreshDataError
from services.common.report import main as report
from services.demand import fresh, pipeline
from services.demand.model import DemandModel
from services.demand.validation import parse_week
from tests.demand.conftest import DATA, SMALL_RUN

UNTIL = "2011-03-23"


@pytest.fixture(scope="module")
def until_build(tmp_path_factory):
    base = tmp_path_factory.mktemp("demand-until")
    out = base / "build"
    manifest = pipeline.run([*SMALL_RUN, "--until", UNTIL, "--output", str(out),
                             "--database-url", f"sqlite:///{base / 'warehouse.db'}", "--report", str(base / "r.txt")])
    return out, manifest


def test_until_leaves_the_later_weeks_out_of_training(until_build):
    out, manifest = until_build
    assert manifest["data_end"] <= UNTIL and manifest["training"]["until"] == UNTIL
    trained = fresh.training_rows(out)
    assert trained["week_end_date"].max().date().isoformat() == manifest["data_end"]
    assert manifest["metrics"]["holdout"]["test_last"].startswith(manifest["data_end"])


def test_fresh_command_scores_the_later_weeks_as_serving_would(until_build, capsys):
    out, manifest = until_build
    assert report(["--fresh", "demand", str(DATA), "--manifest", str(out / "manifest.json"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    raw = pd.read_csv(DATA, dtype=str)
    frame = pipeline.validate(DATA, None)[0]
    later = frame[pd.to_datetime(frame["week_end_date"]) > pd.Timestamp(manifest["data_end"])]
    assert result["rows"] == len(later) and len(raw) > len(later) > 0
    served_name = manifest["metrics"]["choice"]["chosen"]
    assert result["summary"]["model"] == served_name
    assert set(result["fresh"]) == {served_name, "store_product_mean", "promo_adjusted_mean", "pooled_elasticity"}
    assert result["summary"]["ratio_interval"]["blocks"] == later["week_end_date"].nunique()
    # the served model's MAE is what DemandModel gives on those rows
    served = DemandModel(out, manifest)
    later = later.assign(week_end_date=pd.to_datetime(later["week_end_date"])).sort_values(
        ["week_end_date", "store_id", "product_id"]).reset_index(drop=True)
    units = pipeline.served_units(served, later)
    assert np.mean(np.abs(units - later["units"])) == pytest.approx(result["fresh"][served_name]["mae"])
    totals = result["total_units"][served_name]
    assert totals["predicted_units"] == pytest.approx(units.sum())
    assert totals["actual_units"] == later["units"].sum()

    assert report(["--fresh", "demand", str(DATA), "--manifest", str(out / "manifest.json")]) == 0
    text = capsys.readouterr().out
    assert "later weeks" in text and "**served**" in text and "interval" in text


def test_a_bad_file_gives_a_clear_fresh_data_error(until_build, tmp_path):
    out, manifest = until_build
    early = tmp_path / "early.csv"
    raw = pd.read_csv(DATA, dtype=str)
    weeks = pd.to_datetime(raw["WEEK_END_DATE"].map(parse_week))
    raw[weeks <= pd.Timestamp(manifest["data_end"])].to_csv(early, index=False)
    with pytest.raises(FreshDataError, match="no rows after the model's data end"):
        fresh.evaluate(out, manifest, early)
    broken = tmp_path / "broken.csv"
    raw.drop(columns=["UNITS"]).to_csv(broken, index=False)
    with pytest.raises(FreshDataError, match="fails the training data's rules"):
        fresh.evaluate(out, manifest, broken)


def test_the_headline_carries_its_seal_interval_and_spread_over_seeds(until_build):
    metrics = until_build[1]["metrics"]
    assert len(metrics["sealed"]["choice_sha256"]) == 64 and metrics["sealed"]["test_scored"] == 1
    interval = metrics["summary"]["ratio_interval"]
    assert interval["block"] == pipeline.BLOCK and interval["blocks"] == pipeline.HOLDOUT_WEEKS
    assert interval["low"] <= metrics["summary"]["ratio_to_baseline"] <= interval["high"]
    seeds = metrics["seeds"]
    assert seeds["model"] == metrics["choice"]["chosen"]
    if seeds.get("deterministic"):      # a price curve has no seed: nothing to spread, and it says so
        assert "test" not in seeds
        assert not metrics["choice"]["chosen"].startswith(("lightgbm", "xgboost", "blend"))
    else:
        spread = seeds["test"]
        assert sorted(spread["seeds"]) == sorted(pipeline.SEEDS) and len(set(spread["values"])) == len(pipeline.SEEDS)


def test_every_effect_used_has_validation_support(until_build):
    from services.common.backtest import unsupported_effects

    metrics = until_build[1]["metrics"]
    assert set(metrics["ablation"]["blend"]) == {"seasonality", "store_effect", "base_price_change"}
    assert unsupported_effects(metrics) == []
    assert until_build[1]["training"]["effects_kept"] == [
        e for e, row in metrics["ablation"]["blend"].items() if row["kept"]]
