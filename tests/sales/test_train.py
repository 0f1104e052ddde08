"""Sales training: the backtest sees nothing after its origins, the choice sees no test row, the
intervals are calibrated on earlier origins, and the served model is the chosen one."""
from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from services.common.manifest import verify_files
from services.common.reproducibility import assert_reproducible
from services.common.splits import TEST, VALIDATION
from services.sales import train
from services.sales.calendar import calendar_counts, good_friday_week, is_holiday_week
from services.sales.candidates import Arima, GlobalGBM, GlobalLinear
from services.sales.features import HORIZON, MIN_HISTORY, forecast_features
from services.sales.model import SalesModel

STORES = [1, 2, 3]


@pytest.fixture(scope="module")
def data():
    frame = train.load_data(stores=STORES)
    stores, weeks, sales = train.sales_matrix(frame)
    return frame, stores, weeks, sales, train.holiday_flags(frame)


@pytest.fixture(scope="module")
def stacked(data):
    _, stores, weeks, sales, flags = data
    return train.stacked_frame(stores, weeks, sales, flags)


@pytest.fixture(scope="module")
def evaluation(stacked):
    return train.forecast_evaluation(stacked, seed=3, quiet=True)


def fold_at(frame, origin, role=None):
    folds = train.forecast_plan(frame).folds(frame)
    return next(f for f in folds if pd.Timestamp(f.origin) == pd.Timestamp(origin) and (role is None or f.role == role))


# -- calendar and features ------------------------------------------------------------------------
def test_the_calendar_flags_every_holiday_week_of_the_data():
    frame = train.load_data(stores=[1])
    flags = [is_holiday_week(d.date()) for d in frame["Date"]]
    assert flags == [bool(f) for f in frame["Holiday_Flag"]]


def test_calendar_counts():
    assert good_friday_week(date(2012, 4, 6)) and good_friday_week(date(2011, 4, 22)) and good_friday_week(date(2010, 4, 2))
    assert not good_friday_week(date(2012, 4, 13))
    # the week Sat 2012-06-30 .. Fri 2012-07-06: 1, 2, 3 July and 4..6 July
    assert calendar_counts(date(2012, 7, 6)) == (0.0, 3.0, 3.0, 0.0)
    # Sat 2011-12-17 .. Fri 2011-12-23: six of the days 18..24 December
    assert calendar_counts(date(2011, 12, 23))[3] == 6.0


def test_features_at_an_origin_ignore_every_later_week(data):
    """Rows forecast from an origin are the same whatever the weeks after it hold."""
    frame, stores, weeks, sales, flags = data
    t = 90
    changed = sales.copy()
    changed[:, t + 1:] *= np.linspace(0.5, 2.0, changed.shape[1] - t - 1)
    a = train.stacked_frame(stores, weeks, sales, flags)
    b = train.stacked_frame(stores, weeks, changed, flags)
    origin = pd.Timestamp(weeks[t])
    cols = [c for c in a.columns if c != "y"]
    pd.testing.assert_frame_equal(a.loc[a["origin"] == origin, cols], b.loc[b["origin"] == origin, cols])
    assert not np.allclose(a.loc[a["origin"] == origin, "y"], b.loc[b["origin"] == origin, "y"])


def test_feature_function_refuses_short_or_bad_history(data):
    _, _, weeks, sales, _ = data
    with pytest.raises(ValueError, match="at least 60"):
        forecast_features(sales[:, :MIN_HISTORY - 1], weeks[:MIN_HISTORY - 1])
    with pytest.raises(ValueError, match="positive"):
        forecast_features(-sales[:, :MIN_HISTORY], weeks[:MIN_HISTORY])


def test_the_lasn_feature_is_the_kernel_baseline(stacked):
    """The level-adjusted seasonal naive the global models start from is the kernel's baseline."""
    for origin in ("2011-04-08", "2011-11-18", "2012-04-27"):
        fold = fold_at(stacked, origin)
        fit, rows = stacked.loc[fold.fit], stacked.loc[fold.predict].drop(columns=["y"])
        for model, column in zip(train.baselines()[:2], ("snaive", "lasn")):
            np.testing.assert_allclose(model.fit(fit).predict(rows), rows[column], rtol=1e-12)


@pytest.mark.parametrize("make", [GlobalLinear, lambda: GlobalGBM(seed=1), Arima])
def test_candidates_forecast_the_same_whatever_follows_the_origin(data, make):
    """A candidate fitted at an origin and forecasting from it cannot read a later week: replacing
    every week after it (sales, and so every later row and feature) changes none of its forecasts."""
    _, stores, weeks, sales, flags = data
    t = 93
    changed = sales.copy()
    changed[:, t + 1:] = changed[:, t + 1:][:, ::-1] * 1.3
    forecasts = []
    for values in (sales, changed):
        frame = train.stacked_frame(stores, weeks, values, flags)
        fold = fold_at(frame, weeks[t])
        model = make().fit(frame.loc[fold.fit])
        forecasts.append(model.predict(frame.loc[fold.predict].drop(columns=["y"])))
    np.testing.assert_array_equal(forecasts[0], forecasts[1])


# -- the plan, the choice, the intervals ------------------------------------------------------------
def _synthetic_stacked(persistent: bool, stores: int = 30, weeks: int = 140, seed: int = 0) -> pd.DataFrame:
    """Stores sharing a yearly season, each with a level that either walks (shocks persist) or
    reverts (AR(1) at 0.8 a week: an 8-week growth is mostly gone 13 weeks later)."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2010-02-05", periods=weeks, freq="7D").date.tolist()
    level = np.zeros((stores, weeks))
    for t in range(1, weeks):
        level[:, t] = (1.0 if persistent else 0.8) * level[:, t - 1] + rng.normal(0, 0.02, stores)
    season = 0.1 * np.sin(2 * np.pi * np.arange(weeks) / 52)
    sales = np.exp(13 + season + level + rng.normal(0, 0.01, (stores, weeks)))
    return train.stacked_frame(list(range(1, stores + 1)), days, sales, np.zeros(weeks, int))


def test_global_linear_damps_growth_that_reverts_and_keeps_growth_that_persists():
    """The share of a store's 8-week growth carried forward is estimated, not assumed: near 1 (the
    level-adjusted seasonal naive) when level shifts persist, well below when they revert."""
    persistent = GlobalLinear(()).fit(_synthetic_stacked(persistent=True))
    reverting = GlobalLinear(()).fit(_synthetic_stacked(persistent=False))
    assert 0.9 < persistent.growth_ < 1.2
    assert reverting.growth_ < 0.8
    assert persistent.params()["growth"] == persistent.growth_


def test_validation_spans_a_year_of_holidays_and_precedes_test(stacked):
    """The validation windows hold every holiday type (Easter, Labor Day, Thanksgiving, Christmas,
    Super Bowl), so an effect or interval decided on them has seen each; test comes after."""
    folds = train.forecast_plan(stacked).folds(stacked)
    val = [f for f in folds if f.role == VALIDATION]
    test = [f for f in folds if f.role == TEST]
    assert len(test) == train.N_TEST and len(val) >= 8
    validated = pd.to_datetime(np.concatenate([stacked.loc[f.predict, "ds"].to_numpy() for f in val]))
    days = {(d.year, d.month, d.day) for d in validated}
    assert {(2011, 4, 22), (2011, 9, 9), (2011, 11, 25), (2011, 12, 30), (2012, 2, 10)} <= days
    assert test[-1].origin == pd.Timestamp("2012-04-27")                          # the latest 13 weeks
    last_validated = max(stacked.loc[f.predict, "ds"].max() for f in val)
    assert last_validated <= pd.Timestamp(test[0].origin)


def test_the_choice_does_not_move_when_test_targets_do(data, evaluation):
    """Replacing every target after the first test origin by nonsense moves the test table, never
    the choice or the validation scores."""
    _, stores, weeks, sales, flags = data
    outcome, _, _, _ = evaluation
    first_test = min(pd.Timestamp(f["origin"]) for f in outcome.plan["folds"] if f["role"] == TEST)
    t = weeks.index(first_test.date())
    changed = sales.copy()
    changed[:, t + 1:] = sales[:, t + 1:].mean() * 0.5
    again, _, _, _ = train.forecast_evaluation(train.stacked_frame(stores, weeks, changed, flags), seed=3, quiet=True)
    assert again.choice.as_json() == outcome.choice.as_json()
    assert again.validation == outcome.validation
    assert again.test != outcome.test


def test_intervals_at_an_origin_use_only_earlier_origins(data):
    from services.sales import intervals

    _, stores, weeks, sales, flags = data
    t = 100
    changed = sales.copy()
    changed[:, t + 1:] *= 3.0
    widths = []
    for values in (sales, changed):
        frame = train.stacked_frame(stores, weeks, values, flags)
        rows = intervals.interval_rows(GlobalLinear(), frame, [pd.Timestamp(weeks[t])], 13, 0.9, TEST)
        assert set(rows["variant"]) == set(intervals.VARIANTS)
        widths.append(np.log(rows["upper"] / rows["prediction"]).to_numpy())
    np.testing.assert_array_equal(widths[0], widths[1])


def test_every_kept_effect_has_validation_support(evaluation):
    from services.common.backtest import unsupported_effects

    outcome, _, groups, _ = evaluation
    metrics = outcome.metrics(**groups)
    assert set(metrics["ablation"]) == {"global_linear", "global_gbm"}
    assert unsupported_effects(metrics) == []
    for family, table in metrics["ablation"].items():
        assert [e for e, row in table.items() if row["kept"]] == groups["effects_kept"][family]
        assert all("test_contribution" in row for row in table.values())


def test_manifest_groups_hold_every_origin_every_baseline_and_the_targets(evaluation):
    outcome, _, groups, _ = evaluation
    names = {"arima", "global_gbm", "global_linear", "seasonal_naive", "level_adjusted_seasonal_naive", "last_value"}
    assert set(groups["test_wmae_by_origin"]) == names == set(groups["validation_wmae_by_origin"])
    n_val = sum(f["role"] == VALIDATION for f in outcome.plan["folds"])
    assert len(groups["test_wmae_by_origin"]["arima"]) == train.N_TEST + 1
    assert len(groups["validation_wmae_by_origin"]["arima"]) == n_val + 1
    chosen = outcome.choice.chosen
    assert groups["test_wmae_by_band"][chosen]["all"] == pytest.approx(outcome.test[chosen]["wmae"])
    cov = groups["test_coverage"]
    assert set(cov) == {"band", "horizon", "holiday_week", "store"}
    target = groups["targets"]["coverage_test_pooled"]
    assert target["met"] == (0.85 <= cov["band"]["pooled"]["coverage"] <= 0.95)
    assert groups["targets"]["coverage_test_min_store"]["value"] == cov["store"]["min"]
    ratio = groups["targets"]["wmae_ratio_test_origins"]
    assert ratio["value"] == pytest.approx(outcome.test[chosen]["wmae"] / outcome.test["level_adjusted_seasonal_naive"]["wmae"])
    assert ratio["met"] == (ratio["value"] <= train.TARGET_RATIO)
    # the headline's interval is over origins, with more than one
    interval = outcome.summary["ratio_interval"]
    assert interval["block"] == "origin" and interval["blocks"] == train.N_TEST
    assert groups["interval"]["variant"] in groups["interval"]["validation_scores"]
    baselines = [b for b in outcome.choice.baselines if b != chosen]
    assert outcome.summary["baseline"] == min(baselines, key=lambda b: outcome.test[b]["wmae"])


# -- the artifact -----------------------------------------------------------------------------------
def test_artifact_verifies_loads_and_serves_the_chosen_model(sales_artifact):
    manifest = json.loads((sales_artifact / "manifest.json").read_text())
    verify_files(sales_artifact, manifest)
    spec = json.loads((sales_artifact / "forecast.json").read_text())
    chosen = manifest["metrics"]["choice"]["chosen"]
    assert spec["model"] == chosen
    model = SalesModel(sales_artifact, manifest)
    assert model.forecast_model == chosen and model.store_ids == [1, 2]

    # refit the chosen candidate on every row of the same data and forecast: serving says the same
    frame = train.load_data(stores=[1, 2])
    stores, weeks, sales = train.sales_matrix(frame)
    stacked = train.stacked_frame(stores, weeks, sales, train.holiday_flags(frame))
    kept = manifest["metrics"]["effects_kept"]
    template = next(m for m in [*train.candidates(42, kept), *train.baselines()] if m.name == chosen)
    expected = template.fit(stacked).predict(train.future_frame(stores, weeks, sales.round(2)))
    served = np.concatenate([model.stores[s].forecast_mean for s in model.store_ids])
    np.testing.assert_allclose(served, expected, rtol=1e-6)
    assert all(np.all(model.stores[s].forecast_lower < model.stores[s].forecast_upper) for s in model.store_ids)
    assert len(model.stores[1].forecast_mean) == HORIZON


def test_serving_features_match_training_features(sales_artifact):
    """/predict: the row serving builds for a week in the history equals the row training built."""
    frame = train.load_data(stores=[1, 2])
    store_means = frame.groupby("Store")["Weekly_Sales"].mean().to_dict()
    x, rows = train.make_rows(frame, store_means)
    model = SalesModel(sales_artifact, json.loads((sales_artifact / "manifest.json").read_text()))
    r = rows.loc[rows.index[-1]]
    out = model.predict(int(r.Store), r.Date.date(), holiday=int(r.Holiday_Flag), temperature=r.Temperature,
                        fuel_price=r.Fuel_Price, cpi=r.CPI, unemployment=r.Unemployment)
    assert out["components"]["random_forest"] == pytest.approx(float(model.random_forest.run(x[-1:])[0, 0]))


def test_predict_past_the_history_uses_no_future_exogenous_values():
    """/predict's evaluation past the origin uses temperature, fuel, CPI and unemployment as known at
    the origin: changing their later values changes nothing there (it does change one-step)."""
    frame = train.load_data(stores=[1, 2])
    cutoff = sorted(frame["Date"].unique())[-train.HOLDOUT_WEEKS]
    later = frame["Date"] >= cutoff
    changed = frame.copy()
    for column in ("Temperature", "Fuel_Price", "CPI", "Unemployment"):
        changed.loc[later, column] = changed.loc[later, column] * 1.5
    a = train.predict_evaluation(frame, seed=1, quiet=True)
    b = train.predict_evaluation(changed, seed=1, quiet=True)
    assert a["predict_past_history"] == b["predict_past_history"]
    assert a["predict_one_step"]["ensemble"] != b["predict_one_step"]["ensemble"]


def test_same_seed_gives_byte_identical_artifacts(tmp_path):
    files = assert_reproducible(train.main, ["--stores", "1,2", "--seed", "5"], tmp_path)
    assert {"forecast.json", "history.json", "arima.json", "random_forest.onnx", "xgboost.onnx"} <= set(files)


@pytest.mark.parametrize("make", [lambda: GlobalGBM(seed=2), Arima, GlobalLinear,
                                  lambda: train.baselines()[1], lambda: train.baselines()[2]])
def test_every_servable_forecaster_serves_what_it_forecast_in_training(sales_artifact, tmp_path, make):
    """Whichever model the choice names, the artifact serves its forecasts (ONNX for the booster,
    JSON for the rest): the export and serving paths of the models that were not chosen today."""
    import shutil

    folder = tmp_path / "build"
    shutil.copytree(sales_artifact, folder)
    frame = train.load_data(stores=[1, 2])
    stores, weeks, sales = train.sales_matrix(frame)
    stacked = train.stacked_frame(stores, weeks, sales, train.holiday_flags(frame))
    future = train.future_frame(stores, weeks, sales.round(2))
    model = make().fit(stacked)
    spec = train.export_forecaster(model, folder, future)
    spec["interval"] = json.loads((sales_artifact / "forecast.json").read_text())["interval"]
    (folder / "forecast.json").write_text(json.dumps(spec))
    served = SalesModel(folder, {"version": "test"})
    assert served.forecast_model == model.name
    got = np.concatenate([served.stores[s].forecast_mean for s in served.store_ids])
    np.testing.assert_allclose(got, model.predict(future), rtol=1e-4 if model.name == "global_gbm" else 1e-6)
