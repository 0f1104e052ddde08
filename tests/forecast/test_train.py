"""Training on a small slice through the kernel flow: per-competition tables, intervals, served == chosen."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from services.common.reproducibility import assert_reproducible
from services.forecast import dataset, features, train

BASELINES = set(train.BASELINE_COLUMNS)
CANDIDATES = {"ridge", "ridge_venue_blend", "gradient_boosting", "random_forest"}


@pytest.fixture(scope="module")
def manifest(forecast_artifact) -> dict:
    return json.loads((forecast_artifact / "manifest.json").read_text())


def test_each_competition_has_its_tables_with_every_baseline(manifest):
    segments = manifest["metrics"]["segments"]
    assert set(segments) == {"afcon", "world_cup"}
    for competition, seg in segments.items():
        for role in ("validation", "test"):
            assert set(seg[role]) == CANDIDATES | BASELINES, (competition, role)
            assert all(row["mae"] >= 0 and row["n"] > 0 for row in seg[role].values())
        assert seg["choice"]["chosen"] in CANDIDATES | BASELINES
        assert set(seg["choice"]["validation_scores"]) == CANDIDATES | BASELINES
        verdict = seg["verdict"]
        assert verdict["chosen"] == seg["choice"]["chosen"]
        assert verdict["mae"] == seg["test"][verdict["chosen"]]["mae"]
        assert verdict["beats"] == {b: seg["test"][verdict["chosen"]]["mae"] < seg["test"][b]["mae"]
                                    for b in BASELINES if b != verdict["chosen"]}
        assert 0.0 <= verdict["coverage"] <= 1.0 and verdict["interval_level"] == 0.9
    assert manifest["metrics"]["summary"] == segments["afcon"]["summary"]   # AFCON is the headline


def test_test_matchdays_come_after_validation_and_stay_in_their_competition(manifest):
    for competition, seg in manifest["metrics"]["segments"].items():
        folds = seg["split_plan"]["folds"]
        validation = [f for f in folds if f["role"] == "validation"]
        test = [f for f in folds if f["role"] == "test"]
        assert validation and test
        assert max(f["predict"]["last"] for f in validation) < min(f["predict"]["first"] for f in test)
        assert all(f["fit"]["last"] < f["predict"]["first"] for f in folds)   # fitted on earlier days only
    afcon_test = [f for f in manifest["metrics"]["segments"]["afcon"]["split_plan"]["folds"] if f["role"] == "test"]
    assert [f["predict"]["first"][:10] for f in afcon_test] == ["2025-12-29", "2025-12-30", "2025-12-31"]


def test_served_model_is_the_choice_with_its_files(manifest, forecast_artifact):
    served = manifest["training"]["served"]
    tables = json.loads((forecast_artifact / "tables.json").read_text())
    assert tables["served"] == served
    for competition, entry in served.items():
        assert entry["model"] == manifest["metrics"]["segments"][competition]["choice"]["chosen"]
        assert set(entry["half_width_fill"]) == {"venue_seen", "venue_new"}
        if entry["kind"] == "onnx":
            assert entry["file"] in manifest["files"] and entry["parity_max_gap"] <= 1e-4
        else:
            assert entry["column"] == train.BASELINE_COLUMNS[entry["model"]]


def test_rolling_intervals_use_earlier_origins_only():
    days = pd.date_range("2025-12-01", periods=12, freq="D")
    table = pd.DataFrame({"model": "m", "origin": days, "role": ["validation"] * 10 + ["test"] * 2,
                          "actual": 0.5, "prediction": 0.5 - np.arange(12) / 100, "capacity": 1000.0,
                          "venue_matches": 1.0})
    half = train.rolling_half_widths(table, 0.9)
    assert half.iloc[:9].isna().all()                      # fewer than 9 earlier residuals: no interval yet
    assert half.iloc[9] == pytest.approx(0.08)             # the 9th smallest of errors 0.00 .. 0.08
    assert half.iloc[11] == pytest.approx(0.10)            # ceil(12 * 0.9) = 11th of 0.00 .. 0.10
    changed = table.assign(actual=np.where(table["origin"] >= days[10], 9.0, 0.5))
    assert train.rolling_half_widths(changed, 0.9).iloc[10] == half.iloc[10]   # a later error moves nothing before


def interval_table(test_actual: float = 0.5, n: int = 40, validation: int = 30) -> pd.DataFrame:
    """One model, two rows a day: `validation` rows then the rest as test; errors grow with the empty
    seats, so scaling by them is what calibrates the knockouts and the group stage alike."""
    rng = np.random.default_rng(0)
    prediction = np.tile([0.5, 0.9], n // 2)
    actual = np.clip(prediction + rng.normal(0, 1, n) * 0.4 * (1 - prediction), 0, 1)
    return pd.DataFrame({"model": "m", "origin": np.repeat(pd.date_range("2025-12-01", periods=n // 2, freq="D"), 2),
                         "role": ["validation"] * validation + ["test"] * (n - validation),
                         "actual": np.where(np.arange(n) >= validation, test_actual, actual), "prediction": prediction,
                         "capacity": 1000.0, "venue_matches": 1.0,
                         "stage": np.where(prediction > 0.8, "Final", "Group Stage")})


def test_the_interval_scheme_is_chosen_on_validation_rows_only():
    table = interval_table()
    variant, scores, reason, settled = train.choose_interval(table, "m", 0.9)
    assert set(scores) == set(train.INTERVAL_VARIANTS)
    assert all(v["n"] == 30 - 10 for v in scores.values())      # 9 residuals needed: from the 6th day on
    # 20 validation rows are too few to choose on: the simplest scheme, said so
    assert variant == "pooled" and "cannot choose" in reason and settled == "unchosen"
    # test actuals anywhere: the same choice and the same validation scores
    assert train.choose_interval(interval_table(test_actual=0.0), "m", 0.9) == (variant, scores, reason, settled)


def test_a_scheme_beats_pooled_only_by_more_than_one_match_per_segment(monkeypatch):
    # 20 rows: scaling is nearer 90% but by no more than one match per segment, so pooled is served
    monkeypatch.setattr(train, "MIN_CHOICE_ROWS", 10)
    variant, scores, reason, settled = train.choose_interval(interval_table(), "m", 0.9)
    assert scores["pooled"]["one_match_per_segment"] == pytest.approx(1 / 10 + 1 / 10)
    assert scores["headroom"]["score"] < scores["pooled"]["score"] <= scores["headroom"]["score"] + 0.2
    assert variant == "pooled" and "not more than one match per segment" in reason and settled == "not_beaten"
    # 190 rows of the same process: the scaled scheme wins by more than the noise and is served
    variant, scores, reason, settled = train.choose_interval(interval_table(n=220, validation=200), "m", 0.9)
    assert variant in ("headroom", "venue+headroom") and settled == "chosen", (scores, reason)
    assert scores["pooled"]["score"] - scores[variant]["score"] > scores["pooled"]["one_match_per_segment"]


def test_the_headroom_scale_shrinks_a_near_full_interval_and_serving_scales_alike():
    from services.forecast.features import HEADROOM_FLOOR, interval_scale

    assert interval_scale([0.5, 0.99, 1.2], True).tolist() == pytest.approx([0.5, HEADROOM_FLOOR, HEADROOM_FLOOR])
    assert interval_scale([0.5, 0.99], False).tolist() == [1.0, 1.0]
    table = interval_table()
    plain = train.rolling_half_widths(table, 0.9, "venue")
    scaled = train.rolling_half_widths(table, 0.9, "venue+headroom")
    full, half_empty = table["prediction"] > 0.8, table["prediction"] < 0.8
    later = table.index >= 20
    # unscaled, both rows of a day share one quantile; scaled, a 0.9 prediction's is a fifth of a 0.5's
    assert np.allclose(plain[later & full].to_numpy(), plain[later & half_empty].to_numpy())
    assert np.allclose(scaled[later & full].to_numpy(), scaled[later & half_empty].to_numpy() * 0.2)


def test_the_served_interval_is_the_chosen_schemes(forecast_artifact, manifest):
    from services.forecast.model import ForecastModel

    served = manifest["training"]["served"]
    model = ForecastModel(forecast_artifact, manifest)
    for competition, entry in served.items():
        assert entry["interval_variant"] == manifest["metrics"]["segments"][competition]["interval_choice"]["variant"]
        assert entry["interval_headroom_scale"] == train.INTERVAL_VARIANTS[entry["interval_variant"]][1]
    out = model.predict(team_a="Morocco", team_b="Senegal", stadium="Casablanca", hour=20.0, stage="Final",
                        day=None) if "afcon" in served else None
    if out is not None:
        entry = served[out["competition"]]
        fill = out["predicted_attendance"] / out["stadium_capacity"]
        scale = max(0.05, 1 - fill) if entry["interval_headroom_scale"] else 1.0
        halves = [q * scale for q in entry["half_width_fill"].values()]
        lower, upper = out["confidence_interval"]
        expect = [min(max(fill - h, 0), 1) * out["stadium_capacity"] for h in halves]
        assert any(abs(lower - e) <= 2 for e in expect), (lower, expect)


def test_stage_uplift_learns_the_knockout_headroom():
    rows = pd.DataFrame({"stage": ["Final"] * 4 + ["Group Stage"] * 4, "venue_fill_so_far": 0.5,
                         "y": [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5]})
    uplift = train.stage_uplift(rows)
    assert "Group Stage" not in uplift and uplift["Round of 16"] == 0.0
    assert uplift["Final"] == pytest.approx(4 * 0.5 * 0.5 / (4 * 0.25 + train.UPLIFT_PSEUDO))


def test_host_terms_anchor_on_the_host_crowd_and_learn_a_host_knockout_headroom():
    """Other finals fill half their empty seats; finals a host plays fill all of them."""
    rows = pd.DataFrame({"stage": ["Final"] * 6 + ["Group Stage"] * 2, "venue_fill_so_far": 0.5,
                         "host_team": [0, 0, 0, 0, 1, 1, 1, 1], "host_crowd": [0.0] * 4 + [0.4] * 4,
                         "y": [0.75] * 4 + [1.0, 1.0, 0.5, 0.5]})
    stage = train.stage_uplift(rows[rows["host_team"] == 0])
    assert stage["Final"] == pytest.approx(4 * 0.25 * 0.5 / (4 * 0.25 + train.UPLIFT_PSEUDO))
    after = 0.5 + stage["Final"] * 0.5
    expected = 2 * (1.0 - after) ** 2 / (2 * (1.0 - after) ** 2 + train.UPLIFT_PSEUDO)   # group rows do not count
    assert train.host_uplift(rows, stage) == pytest.approx(expected)
    assert train.host_uplift(rows.assign(host_team=0), stage) == 0.0
    # Served alike: a host's final closes that share of what the stage headroom left empty, a group match nothing.
    final = features.served_fill(0.5, 0.5, "Final", 0.5, stage, True, expected, 0.4)
    assert final == pytest.approx(after + expected * (1 - after))
    assert features.served_fill(0.5, 0.5, "Group Stage", 0.5, stage, True, expected) == pytest.approx(0.5)
    assert features.served_fill(0.5, 0.5, "Final", 0.5, stage, False, expected) == pytest.approx(after)
    # The anchor: a host's crowd so far above the venue's fill replaces it (capped at a full house).
    assert features.served_fill(0.5, 0.2, "Group Stage", 0.5, {}, True, 0.0, 0.9) == pytest.approx(0.7)
    assert features.served_fill(0.5, 0.2, "Group Stage", 0.5, {}, True, 0.0, 1.4) == pytest.approx(0.75)
    assert features.served_fill(0.5, 0.2, "Group Stage", 0.5, {}, False, 0.0, 0.9) == pytest.approx(0.35)
    lifted = rows.assign(host_crowd=[0.0] * 4 + [0.9] * 4)
    base = 0.9 + stage["Final"] * 0.1
    assert train.host_uplift(lifted, stage) == pytest.approx(2 * (1 - base) ** 2 / (2 * (1 - base) ** 2 + 1.0))


def test_host_terms_check_decides_on_the_world_cups_before_the_test_only():
    frame = dataset.load_matches()
    walked, _ = dataset.walk(frame)
    walked["y"] = walked["fill"]
    check = train.host_terms_check(walked)
    cups = list(dict.fromkeys(walked.loc[walked["competition"] == "world_cup"].sort_values("day")["tournament"]))
    assert check["last"] != cups[-1] and check["n"] > 50 and isinstance(check["on"], bool)
    test_cup = walked["tournament"] == cups[-1]
    changed = walked.assign(y=np.where(test_cup, 1.0 - walked["y"], walked["y"]))   # the test's crowds do not count
    assert train.host_terms_check(changed) == check


def test_capacities_leak_nothing_into_the_features():
    """Doubling every attendance of the test matchdays leaves their features alone."""
    frame = dataset.load_matches(limit=120)
    walked, _ = dataset.walk(frame)
    last = frame["day"] == frame.loc[frame["competition"] == "afcon", "day"].max()
    changed = frame.assign(attendance=np.where(last, frame["attendance"] * 2, frame["attendance"]))
    again, _ = dataset.walk(changed.assign(fill=changed["attendance"] / changed["capacity"]))
    assert walked.loc[last, train.FEATURE_NAMES].equals(again.loc[last, train.FEATURE_NAMES])
    assert walked.loc[last, "capacity"].equals(again.loc[last, "capacity"])


@pytest.mark.slow
def test_retraining_with_the_same_seed_gives_the_same_bytes(tmp_path):
    files = assert_reproducible(train.main, ["--small", "--seed", "7"], tmp_path)
    served = json.loads((tmp_path / "a" / "tables.json").read_text())["served"]
    onnx = {e["file"] for e in served.values() if e["kind"] == "onnx"}
    assert onnx and set(files) == {"manifest.json", "tables.json", *onnx}
