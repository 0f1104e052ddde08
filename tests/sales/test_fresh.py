"""The fresh-data check: trained on the weeks up to a date, scored on the later shipped weeks by
`report --fresh sales FILE`, recomputed here from the raw CSV and the served artifact."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from services.common.fresh import FreshDataError
from services.common.report import main as report
from services.sales import fresh, train
from services.sales.model import SalesModel

UNTIL = "2012-04-27"          # 13 weeks before the shipped data ends (2012-07-27)
STORES = [1, 2, 14]


@pytest.fixture(scope="module")
def until_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("sales-until") / "build"
    manifest = train.main(["--stores", ",".join(map(str, STORES)), "--until", UNTIL, "--quiet", "--no-publish",
                           "--output", str(out)])
    return out, manifest


def raw_weeks() -> pd.DataFrame:
    raw = pd.read_csv(train.DATA)
    raw["Date"] = pd.to_datetime(raw["Date"], format="%d-%m-%Y")
    return raw[raw["Store"].isin(STORES)]


def test_until_leaves_the_later_weeks_out_and_says_the_interval_variant_was_not_chosen(until_build):
    out, manifest = until_build
    assert manifest["data_end"] == UNTIL and manifest["training"]["until"] == UNTIL
    served = SalesModel(out, manifest)
    assert served.last_week.isoformat() == UNTIL
    interval = manifest["metrics"]["interval"]
    # 117 weeks leave no validation origin with 13 calibration origins behind it: nothing to choose on
    assert interval["variant"] == "pooled" and "unchosen" in interval["chosen_on"]
    assert "validation_coverage" not in manifest["metrics"] and "test_coverage" in manifest["metrics"]


def test_fresh_command_scores_the_served_forecast_and_the_baselines_on_the_later_weeks(until_build, capsys):
    out, manifest = until_build
    assert report(["--fresh", "sales", str(train.DATA), "--manifest", str(out / "manifest.json"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    raw = raw_weeks()
    later = raw[raw["Date"] > pd.Timestamp(UNTIL)].sort_values(["Date", "Store"]).reset_index(drop=True)
    assert len(later) == 13 * len(STORES) == result["rows"]
    assert result["rows_left_out"] == {"past_the_served_weeks": 0, "unknown_store": 13 * (45 - len(STORES))}
    weight = np.where(later["Holiday_Flag"] == 1, train.HOLIDAY_WEIGHT, 1.0)
    actual = later["Weekly_Sales"].to_numpy()

    def wmae(prediction):
        return float(np.sum(weight * np.abs(actual - prediction)) / weight.sum())

    # the served model: SalesModel's /forecast for those weeks, as the API answers it
    served = SalesModel(out, manifest)
    name = f"{served.forecast_model} (/forecast)"
    assert result["summary"]["model"] == name
    by_week = {(s, pd.Timestamp(f["Date"])): f for s in STORES for f in served.forecast(s, 13)}
    forecast = [by_week[(r.Store, r.Date)] for r in later.itertuples()]
    assert result["fresh"][name]["wmae"] == pytest.approx(wmae(np.array([f["Sales"] for f in forecast])))
    covered = np.mean([f["lower"] <= a <= f["upper"] for f, a in zip(forecast, actual)])
    assert result["coverage"]["pooled"]["coverage"] == pytest.approx(covered)
    assert set(result["coverage"]["store"]["segments"]) == {str(s) for s in STORES}
    assert set(result["coverage"]["band"]["segments"]) == {"h1-4", "h5-8", "h9-13"}

    # the level-adjusted seasonal naive, by hand from the raw weeks up to the data end
    history = raw[raw["Date"] <= pd.Timestamp(UNTIL)].sort_values("Date")
    expected = []
    for r in later.itertuples():
        y = history.loc[history["Store"] == r.Store, "Weekly_Sales"].to_numpy()
        h = (r.Date - pd.Timestamp(UNTIL)).days // 7
        level = y[-8:].mean() / y[-60:-52].mean()
        expected.append(y[len(y) - 1 + h - 52] * level)
    assert result["fresh"][train.BASELINE]["wmae"] == pytest.approx(wmae(np.array(expected)))
    assert set(result["fresh"]) == {name, "seasonal_naive", train.BASELINE, "last_value"}
    interval = result["summary"]["ratio_interval"]
    assert interval["blocks"] == 13 and interval["low"] <= result["summary"]["ratio_to_baseline"] <= interval["high"]

    assert report(["--fresh", "sales", str(train.DATA), "--manifest", str(out / "manifest.json")]) == 0
    text = capsys.readouterr().out
    assert "later weeks" in text and "**served**" in text and "coverage by store" in text


def test_the_fresh_score_is_the_full_models_latest_origin_score(until_build):
    """The full-data training backtests its latest test origin (2012-04-27) exactly as the model trained
    up to that week serves: the two must agree to the cent."""
    out, manifest = until_build
    frame = train.load_data(stores=STORES)
    stacked = train.stacked_frame(*train.sales_matrix(frame), train.holiday_flags(frame))
    outcome, _, groups, _ = train.forecast_evaluation(stacked, seed=42, quiet=True)
    chosen = outcome.choice.chosen
    if chosen != manifest["metrics"]["choice"]["chosen"]:
        pytest.skip(f"the full data chose {chosen}, the shorter history {manifest['metrics']['choice']['chosen']}")
    result = fresh.evaluate(out, manifest, train.DATA)
    scored = result.table[result.table["model"] == result.served]
    full = groups["latest_13_weeks_wmae_by_band"][chosen]["all"]
    assert np.sum(scored["weight"] * np.abs(scored["actual"] - scored["prediction"])) / scored["weight"].sum() \
        == pytest.approx(full, rel=1e-6)


def test_a_file_without_later_weeks_or_in_another_schema_is_refused(until_build, tmp_path):
    out, manifest = until_build
    raw = pd.read_csv(train.DATA)
    early = tmp_path / "early.csv"
    raw[pd.to_datetime(raw["Date"], format="%d-%m-%Y") <= pd.Timestamp(UNTIL)].to_csv(early, index=False)
    with pytest.raises(FreshDataError, match="no rows after the model's data end 2012-04-27"):
        fresh.evaluate(out, manifest, early)
    broken = tmp_path / "broken.csv"
    raw.drop(columns=["Weekly_Sales"]).to_csv(broken, index=False)
    with pytest.raises(FreshDataError, match="not in the training data's schema"):
        fresh.evaluate(out, manifest, broken)
    other = tmp_path / "other_stores.csv"
    raw.assign(Store=raw["Store"] + 100).to_csv(other, index=False)
    with pytest.raises(FreshDataError, match="for a store the model knows"):
        fresh.evaluate(out, manifest, other)
