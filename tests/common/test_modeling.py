"""The kernel's modeling layer: baselines, split plans, backtest, scores, the choice, the flow.

The central guarantee: the served model is chosen on validation rows only. Replacing the test
rows' targets must not move the choice (it does move the test table); replacing validation
targets can.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from services.common import evaluation as ev
from services.common.backtest import backtest, choose, run, score, summarize
from services.common.baselines import LastValue, LevelAdjustedSeasonalNaive, MeanByKey, SeasonalNaive, steps
from services.common.export import dumps
from services.common.modeling import Conformal, Regressor, conformal_quantile
from services.common.splits import GroupedSplit, RollingOrigin

METRICS = {"mae": ev.mae, "rmse": ev.rmse}


def seasonal_frame(n: int = 120, stores: int = 3, season: int = 7, seed: int = 0) -> pd.DataFrame:
    """Stores with a weekly pattern, a level per store and a little noise."""
    rng = np.random.default_rng(seed)
    rows = []
    pattern = np.array([5.0, 3, 1, 0, 1, 3, 8])[:season]
    for s in range(stores):
        y = 50 + 10 * s + np.tile(pattern, n // season + 1)[:n] + rng.normal(0, 0.3, n)
        rows += [{"unique_id": s, "ds": t, "y": float(v)} for t, v in enumerate(y)]
    return pd.DataFrame(rows)


# -- baselines ------------------------------------------------------------------------------------
def test_baselines_predict_what_they_say():
    frame = pd.DataFrame({"unique_id": ["a"] * 8 + ["b"] * 8, "ds": list(range(8)) * 2,
                          "y": [1, 2, 3, 4, 5, 6, 7, 8] + [10, 20, 30, 40, 50, 60, 70, 80]})
    future = pd.DataFrame({"unique_id": ["a", "a", "a", "b"], "ds": [8, 9, 13, 8]})
    np.testing.assert_array_equal(LastValue().fit(frame).predict(future), [8, 8, 8, 80])
    # season 4: step 8 <- 4, step 9 <- 5, step 13 <- 5 (two seasons back), b step 8 <- 50
    np.testing.assert_array_equal(SeasonalNaive(4).fit(frame).predict(future), [5, 6, 6, 50])
    np.testing.assert_array_equal(MeanByKey().fit(frame).predict(pd.DataFrame({"unique_id": ["a", "zz"]})),
                                  [4.5, (4.5 + 45) / 2])
    # level adjusted: last 2 steps (7, 8) vs a season before (3, 4): ratio 15/7
    adjusted = LevelAdjustedSeasonalNaive(4, window=2).fit(frame).predict(future.iloc[:1])
    assert adjusted[0] == pytest.approx(5 * 15 / 7)
    diff = LevelAdjustedSeasonalNaive(4, window=2, adjust="difference").fit(frame).predict(future.iloc[:1])
    assert diff[0] == pytest.approx(5 + (7.5 - 3.5))


@pytest.mark.parametrize("baseline, needs", [(LastValue(), 1), (SeasonalNaive(5), 5),
                                             (LevelAdjustedSeasonalNaive(5, window=3), 8), (MeanByKey(), 1)])
def test_baselines_refuse_too_short_history(baseline, needs):
    enough = pd.DataFrame({"unique_id": [1] * needs, "ds": range(needs), "y": np.arange(needs) + 1.0})
    baseline.fit(enough)
    with pytest.raises(ValueError, match="needs at least|nothing to fit"):
        type(baseline)(**_params(baseline)).fit(enough.iloc[: needs - 1])


def _params(baseline):
    return {k: getattr(baseline, k) for k in ("season", "window") if hasattr(baseline, k)}


def test_baselines_refuse_unseen_keys_and_gaps_but_mean_falls_back():
    frame = pd.DataFrame({"unique_id": [1, 1, 1, 1], "ds": [0, 1, 3, 4], "y": [1.0, 2, 4, 5]})
    with pytest.raises(ValueError, match="not in the fitting frame"):
        LastValue().fit(frame).predict(pd.DataFrame({"unique_id": [2], "ds": [5]}))
    with pytest.raises(ValueError, match="gap"):
        SeasonalNaive(3).fit(frame).predict(pd.DataFrame({"unique_id": [1], "ds": [5]}))   # needs step 2
    assert MeanByKey().fit(frame).predict(pd.DataFrame({"unique_id": [2]}))[0] == 3.0


def test_baselines_count_a_stacked_frame_target_once():
    frame = pd.DataFrame({"unique_id": 1, "ds": [0, 1, 2, 2, 2], "y": [1.0, 2, 9, 9, 9], "horizon": [1, 1, 1, 2, 3]})
    assert MeanByKey().fit(frame).predict(frame.iloc[:1])[0] == pytest.approx(4.0)
    assert LastValue().fit(frame).predict(frame.iloc[:1])[0] == 9.0


def test_datetime_times_count_in_freq_steps():
    days = pd.Series(pd.date_range("2024-01-05", periods=4, freq="7D"), name="ds")
    assert (steps(days, "7D") - steps(days, "7D")[0]).tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="not integer"):
        steps(days, None)
    with pytest.raises(ValueError, match="grid"):
        steps(pd.Series(pd.to_datetime(["2024-01-05", "2024-01-08"]), name="ds"), "7D")
    frame = pd.DataFrame({"unique_id": 1, "ds": days, "y": [1.0, 2, 3, 4]})
    future = pd.DataFrame({"unique_id": [1], "ds": [days.iloc[-1] + pd.Timedelta("7D")]})
    assert SeasonalNaive(2, freq="7D").fit(frame).predict(future)[0] == 3.0


# -- split plans ----------------------------------------------------------------------------------
@pytest.mark.parametrize("horizon, step, n_val, n_test", [(7, 7, 3, 2), (5, 2, 4, 3), (1, 1, 10, 5), (14, 14, 1, 1)])
def test_rolling_origin_keeps_test_rows_out_of_every_fit_and_every_validation_fold(horizon, step, n_val, n_test):
    frame = seasonal_frame(100)
    folds = RollingOrigin("ds", horizon=horizon, step=step, n_validation=n_val, n_test=n_test).folds(frame)
    val = [f for f in folds if f.role == "validation"]
    test = [f for f in folds if f.role == "test"]
    assert len(val) == n_val and len(test) == n_test
    test_rows = np.logical_or.reduce([f.predict for f in test])
    val_rows = np.logical_or.reduce([f.predict for f in val])
    assert frame.loc[val_rows, "ds"].max() < frame.loc[test_rows, "ds"].min()      # test strictly later
    for f in folds:
        assert not (f.fit & f.predict).any()
        assert frame.loc[f.fit, "ds"].max() == f.origin < frame.loc[f.predict, "ds"].min()
        assert set(np.unique(f.horizon)) <= set(range(1, horizon + 1))
    for f in val:
        assert not ((f.fit | f.predict) & test_rows).any()   # no test row is fitted on or scored when choosing
    assert test[-1].origin == 99 - horizon                    # the last window ends at the end of the data


def test_rolling_origin_refuses_too_little_history_and_explicit_origins_must_exist():
    frame = seasonal_frame(30)
    with pytest.raises(ValueError, match="leaves no room"):
        RollingOrigin("ds", horizon=7, n_validation=3, n_test=2, min_fit=5).folds(frame)
    plan = RollingOrigin.at("ds", 1, validation=[20, 22], test=[25, 27])
    assert [(f.role, f.origin) for f in plan.folds(frame)] == [("validation", 20), ("validation", 22),
                                                                ("test", 25), ("test", 27)]
    with pytest.raises(ValueError, match="not a ds value"):
        RollingOrigin.at("ds", 1, validation=[20], test=[99]).folds(frame)
    with pytest.raises(ValueError, match="touches test rows"):
        RollingOrigin.at("ds", 3, validation=[24], test=[25]).folds(frame)


def test_rolling_origin_on_a_stacked_frame_predicts_only_rows_computed_at_the_origin():
    base = seasonal_frame(40, stores=1)
    stacked = pd.concat([base.assign(origin=base["ds"] - h, horizon=h) for h in (1, 2, 3)], ignore_index=True)
    stacked = stacked[stacked["origin"] >= 0]
    for f in RollingOrigin("ds", horizon=3, step=3, n_validation=2, n_test=2, origin="origin").folds(stacked):
        assert (stacked.loc[f.predict, "origin"] == f.origin).all()
        assert stacked.loc[f.predict, "horizon"].tolist() == f.horizon.tolist()


def test_grouped_split_holds_out_whole_groups_and_orders_them_in_time():
    frame = seasonal_frame(60, stores=1).assign(day=lambda d: d["ds"] // 10)
    folds = GroupedSplit("day", validation=[3, 4], test=[5], time="ds").folds(frame)
    for f in folds:
        held = set(frame.loc[f.predict, "day"])
        assert len(held) == 1 and not set(frame.loc[f.fit, "day"]) & held
        assert 5 not in set(frame.loc[f.fit, "day"])
        assert frame.loc[f.fit, "ds"].max() < frame.loc[f.predict, "ds"].min()
    unordered = GroupedSplit("day", validation=[5, 1], test=[3]).folds(frame)      # no time: any order
    assert not (unordered[0].fit & (frame["day"] == 3).to_numpy()).any()
    with pytest.raises(ValueError, match="not after"):
        GroupedSplit("day", validation=[4], test=[2], time="ds").folds(frame)
    with pytest.raises(ValueError, match="both validation and test"):
        GroupedSplit("day", validation=[1, 2], test=[2])
    assert json.loads(dumps(GroupedSplit("day", validation=[3, 4], test=[5], time="ds").describe(frame)))


# -- backtest, scores, intervals ------------------------------------------------------------------
class Peeking:
    """A model that tries to read the answer at predict time."""

    name = "peeking"

    def fit(self, frame):
        return self

    def predict(self, frame):
        return frame["y"].to_numpy()


def test_backtest_table_is_tidy_and_hides_the_target_from_predict():
    frame = seasonal_frame(80)
    plan = RollingOrigin("ds", horizon=7, n_validation=2, n_test=2)
    table = backtest([SeasonalNaive(7), LastValue()], frame, plan, keys=["unique_id", "ds"])
    assert list(table.columns) == ["fold", "role", "origin", "horizon", "model", "row", "unique_id", "ds",
                                   "actual", "prediction"]
    assert len(table) == 2 * 4 * 7 * 3
    assert (table["actual"].to_numpy() == frame.loc[table["row"], "y"].to_numpy()).all()
    per_model = table.groupby("model")["row"].apply(list)
    assert per_model["seasonal_naive"] == per_model["last_value"]            # same rows for every model
    with pytest.raises(KeyError):
        backtest([Peeking()], frame, plan)


def test_score_applies_evaluation_functions_with_weights_and_intervals():
    table = pd.DataFrame({"role": "test", "model": "m", "actual": [10.0, 20, 30], "prediction": [12.0, 20, 27],
                          "holiday": [1, 0, 0], "lower": [9.0, 21, 25], "upper": [13.0, 22, 31]})
    table["weight"] = np.where(table["holiday"] == 1, 5.0, 1.0)
    out = score(table, {"mae": ev.mae, "wmae": ev.wmae, "coverage": ev.coverage}, weights="weight")
    assert out["test"]["m"] == {"mae": pytest.approx(5 / 3), "wmae": pytest.approx((5 * 2 + 3) / 7),
                                "coverage": pytest.approx(2 / 3), "n": 3}
    with pytest.raises(ValueError, match="needs weights"):
        score(table, {"wmae": ev.wmae})
    with pytest.raises(ValueError, match="lacks"):
        score(table.drop(columns=["lower"]), {"coverage": ev.coverage})


def test_conformal_intervals_cover_what_they_claim_on_held_out_rows():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"unique_id": 0, "ds": np.arange(400), "y": rng.normal(100, 5, 400)})
    model = Conformal(MeanByKey(name="mean"), RollingOrigin("ds", horizon=10, n_validation=15, n_test=5))
    table = backtest([model], frame, RollingOrigin("ds", horizon=50, n_validation=1, n_test=1), level=0.8)
    test = table[table["role"] == "test"]
    assert 0.68 <= ev.coverage(test["actual"], test["lower"], test["upper"]) <= 0.92
    assert conformal_quantile(np.arange(1, 10), 0.8) == 8          # ceil(10 * 0.8) = 8th smallest
    with pytest.raises(ValueError, match="cannot give"):
        conformal_quantile(np.arange(3), 0.9)


def test_relative_conformal_fits_series_of_different_scales():
    """One width in log terms covers a small and a large series alike; one width in units cannot."""
    rng = np.random.default_rng(5)
    n = 300
    frame = pd.DataFrame({"unique_id": np.repeat([0, 1], n), "ds": np.tile(np.arange(n), 2),
                          "y": np.concatenate([10 * np.exp(rng.normal(0, 0.1, n)), 1000 * np.exp(rng.normal(0, 0.1, n))])})
    calibration = RollingOrigin("ds", horizon=10, n_validation=0, n_test=10)
    plan = RollingOrigin("ds", horizon=50, n_validation=1, n_test=1)
    for relative in (True, False):
        model = Conformal(MeanByKey(name="mean", key="unique_id"), calibration, relative=relative)
        table = backtest([model], frame, plan, level=0.8, keys=["unique_id"])
        test = table[table["role"] == "test"]
        small, large = (test[test["unique_id"] == k] for k in (0, 1))
        cover = [ev.coverage(p["actual"], p["lower"], p["upper"]) for p in (small, large)]
        if relative:
            assert all(0.65 <= c <= 0.95 for c in cover), cover
            assert np.allclose(small["upper"] / small["prediction"], large["upper"] / large["prediction"])
        else:
            assert cover[0] == 1.0 and cover[1] < 0.75, cover      # too wide for the small, too narrow for the large
    with pytest.raises(ValueError, match="positive"):
        Conformal(MeanByKey(name="mean"), calibration, relative=True).fit(frame.assign(y=frame["y"] - 500))


def test_a_calibration_plan_may_have_no_validation_folds():
    frame = seasonal_frame(60, stores=1)
    folds = RollingOrigin("ds", horizon=5, n_validation=0, n_test=4, step=1).folds(frame)
    assert [f.role for f in folds] == ["test"] * 4 and [f.origin for f in folds] == [51, 52, 53, 54]
    with pytest.raises(ValueError, match="at least one test window"):
        RollingOrigin("ds", horizon=5, n_validation=0, n_test=0)


# -- the choice -----------------------------------------------------------------------------------
def flow(frame, **kwargs):
    return run(frame, RollingOrigin("ds", horizon=7, n_validation=4, n_test=3),
               candidates=[SeasonalNaive(7, name="weekly"), LastValue(name="persistence")],
               baselines=[MeanByKey(name="store_mean"), LastValue(name="last_value")],
               metrics=METRICS, metric="mae", keys=["unique_id", "ds"], **kwargs)


def test_changing_test_targets_never_changes_the_choice():
    frame = seasonal_frame(140)
    first = flow(frame)
    assert first.choice.chosen == "weekly"
    test_rows = first.table.loc[first.table["role"] == "test", "row"].unique()
    scrambled = frame.copy()
    # test targets replaced by each store's last value before the test: persistence is perfect there
    before = scrambled[scrambled["ds"] < scrambled.loc[test_rows, "ds"].min()].groupby("unique_id")["y"].last()
    scrambled.loc[test_rows, "y"] = scrambled.loc[test_rows, "unique_id"].map(before)
    second = flow(scrambled)
    assert second.choice.as_json() == first.choice.as_json()
    assert second.validation == first.validation
    assert second.test["persistence"]["mae"] == 0 < second.test["weekly"]["mae"]   # test rows now favour persistence


def test_changing_validation_targets_can_change_the_choice():
    frame = seasonal_frame(140)
    first = flow(frame)
    val_rows = first.table.loc[first.table["role"] == "validation", "row"].unique()
    flat = frame.copy()
    last_before = flat[flat["ds"] < flat.loc[val_rows, "ds"].min()].groupby("unique_id")["y"].last()
    flat.loc[val_rows, "y"] = flat.loc[val_rows, "unique_id"].map(last_before)
    flat.loc[flat["ds"] > flat.loc[val_rows, "ds"].max(), "y"] = flat["unique_id"].map(last_before)
    assert flow(flat).choice.best_candidate == "persistence"


def test_choice_rule_margin_and_summary_against_the_strongest_baseline_on_test_rows():
    frame = seasonal_frame(140)
    outcome = flow(frame)
    choice = outcome.choice
    assert choice.strongest_baseline == "last_value" or choice.validation["last_value"] >= choice.validation["store_mean"]
    strongest = min(["store_mean", "last_value"], key=lambda b: outcome.test[b]["mae"])
    assert outcome.summary["baseline"] == strongest
    assert outcome.summary["model_score"] == outcome.test["weekly"]["mae"]
    assert outcome.summary["beats_baseline"] is True and "beats" in outcome.summary["statement"]
    # an impossible margin: the strongest baseline is served instead, and the summary compares it
    # with the other baseline
    cautious = flow(frame, margin=10.0)
    assert cautious.choice.chosen == cautious.choice.strongest_baseline
    assert cautious.summary["model"] == cautious.choice.chosen != cautious.summary["baseline"]
    # a service whose product is the candidate: served even when it loses, and the summary says so
    losing = flow(frame, margin=10.0, serve_baseline=False)
    assert losing.choice.chosen == "weekly" and "does not beat" in losing.choice.reason


def test_choose_reads_only_validation_rows():
    table = pd.DataFrame({"role": ["validation"] * 2 + ["test"] * 2, "model": ["a", "b"] * 2,
                          "actual": [1.0, 1, 1, 1], "prediction": [1.0, 2, 9, 1]})
    with pytest.raises(ValueError, match="two baselines"):
        choose(table, METRICS, metric="mae", candidates=["a"], baselines=["b"])
    choice = choose(table, METRICS, metric="mae", candidates=["a"], baselines=["b"], serve_baseline=False)
    assert choice.chosen == "a" and choice.validation == {"a": 0.0, "b": 1.0}
    test = score(table[table["role"] == "test"], METRICS, by=("model",))
    summary = summarize(test, choice)
    assert summary["beats_baseline"] is False and "does NOT beat" in summary["statement"]


def test_the_headline_divides_by_the_baseline_strongest_on_validation_and_names_a_stronger_one_on_test():
    # b is the stronger baseline on validation, c on test: the yardstick is named before the test is seen
    table = pd.DataFrame({"role": ["validation"] * 3 + ["test"] * 3, "model": ["a", "b", "c"] * 2,
                          "actual": [1.0] * 6, "prediction": [1.5, 2.0, 4.0, 2.0, 4.0, 3.0]})
    choice = choose(table, METRICS, metric="mae", candidates=["a"], baselines=["b", "c"])
    test = score(table[table["role"] == "test"], METRICS, by=("model",))
    summary = summarize(test, choice)
    assert choice.chosen == "a" and summary["baseline"] == "b" == choice.strongest_baseline
    assert summary["ratio_to_baseline"] == pytest.approx(1.0 / 3.0)
    assert summary["strongest_baseline_on_test"]["baseline"] == "c"
    assert summary["strongest_baseline_on_test"]["ratio_to_baseline"] == pytest.approx(0.5)
    assert "on the test rows c was stronger: ratio 0.500" in summary["statement"]
    # when validation and test agree, nothing extra is said
    same = summarize(score(table[table["role"] == "validation"], METRICS, by=("model",)), choice)
    assert same["baseline"] == "b" and "strongest_baseline_on_test" not in same


def test_flow_refits_the_chosen_model_on_every_row_and_its_metrics_are_json():
    frame = seasonal_frame(140)
    outcome = flow(frame)
    assert outcome.model.name == outcome.choice.chosen
    last = frame["ds"].max()
    assert outcome.model.history_[0][0][-1] == last           # fitted through the last row, test rows included
    metrics = json.loads(dumps(outcome.metrics(extra_group={"x": {"n": 1}})))
    assert {"holdout", "split_plan", "validation", "choice", "test", "summary", "extra_group"} <= set(metrics)
    assert set(metrics["test"]) == {"weekly", "persistence", "store_mean", "last_value"}
    assert metrics["choice"]["validation_scores"] == {k: v["mae"] for k, v in metrics["validation"].items()}
    assert metrics["split_plan"]["n_test"] == 3 and len(metrics["split_plan"]["folds"]) == 7
    assert metrics["holdout"]["test_rows"] == 3 * 7 * 3


def test_regressor_adapter_fits_named_feature_columns():
    from sklearn.linear_model import LinearRegression

    frame = seasonal_frame(140)
    frame["lag7"] = frame.groupby("unique_id")["y"].shift(7)
    frame = frame.dropna().reset_index(drop=True)
    outcome = run(frame, RollingOrigin("ds", horizon=7, n_validation=3, n_test=2),
                  candidates=[Regressor("lag_regression", LinearRegression(), ["lag7"])],
                  baselines=[MeanByKey(name="store_mean")], metrics=METRICS, metric="mae", serve_baseline=False)
    assert outcome.choice.chosen == "lag_regression"
    assert outcome.test["lag_regression"]["mae"] < outcome.test["store_mean"]["mae"]
    with pytest.raises(ValueError, match="lacks feature columns"):
        outcome.model.predict(frame.drop(columns=["lag7"]))
