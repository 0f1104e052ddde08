"""Training: the manifest carries held-out wait metrics beside Little's law and anomaly P/R/F1."""
from __future__ import annotations

import json

import numpy as np
import pytest

from services.flow.features import FEATURE_NAMES, Reading, feature_matrix, windows_from_series


def test_manifest_metrics(flow_artifact):
    manifest = json.loads((flow_artifact / "manifest.json").read_text())
    m = manifest["metrics"]
    regimes = m["regimes"]
    # whole regimes are held out: no test regime is fitted on or used for choosing
    assert set(regimes["test"]).isdisjoint(regimes["fit"] + regimes["validation"])
    assert m["split_plan"]["kind"] == "grouped" and m["split_plan"]["test"] == ["test"]
    chosen = m["choice"]["chosen"]
    candidates = ("lightgbm_l1", "lightgbm_l2", "lightgbm_l1_one_engine")
    baselines = ("littles_law_observed_rate", "queue_x_processing_over_lanes")
    best = min(candidates, key=lambda c: m["validation"][c]["mae"])
    strongest = min(baselines, key=lambda b: m["validation"][b]["mae"])
    # served: the best candidate if it beats the strongest baseline on validation, else that baseline
    assert chosen == (best if m["validation"][best]["mae"] < m["validation"][strongest]["mae"] else strongest)
    config = json.loads((flow_artifact / "flow.json").read_text())
    assert config["wait_model"] == chosen and (("wait.onnx" in manifest["files"]) == chosen.startswith("lightgbm"))
    headline = m["wait_test_by_regime"]["all held-out regimes"]
    divisor = m["summary"]["baseline"]        # the stronger baseline on validation (the other one if it is served)
    assert divisor == (strongest if chosen != strongest else next(b for b in baselines if b != strongest))
    assert abs(headline["model_mae_ratio_to_strongest_baseline"] - headline[f"{chosen}_mae"] / headline[f"{divisor}_mae"]) < 1e-9
    assert abs(headline[f"{chosen}_mae"] - m["test"][chosen]["mae"]) < 1e-9
    for regime in regimes["test"]:
        assert m["wait_test_by_regime"][regime]["rows"] > 0
    served = m["anomaly_choice"]["served"]
    assert config["anomaly_method"] == served == m["anomaly_summary"]["served"]
    assert config["anomaly_threshold"] == m["anomaly_validation"][served]["threshold"]
    stable = [n for n, v in m["anomaly_validation"].items() if v.get("threshold_stable")]
    assert served in stable or not stable
    assert m["anomaly_choice"]["threshold_stable"] == (served in stable)
    t = m["anomaly_test"][served]
    assert t["recall_3min_ci95_lo"] <= t["recall_3min"] <= t["recall_3min_ci95_hi"]
    assert t["false_alarms_ci95_lo"] <= t["false_alarms_per_gate_hour"] <= t["false_alarms_ci95_hi"]
    assert served in m["anomaly_summary"]["statement"]
    assert "flow.json" in manifest["files"]
    # slow_scanner asked the other way: the served rule and a classifier trained on those faults, on the
    # same validation days of them; a gradual fault is flagged late more often than within 3 minutes
    trained = m["novel_mechanism_trained_on"]
    assert set(trained) == {f"{served} (served, not trained on it)", "lightgbm_classifier trained on slow_scanner"}
    for row in trained.values():
        assert row["slow_scanner_days"] > 0 and row["slow_scanner_fit_days"] > 0 and row["events"] > 0
        assert 0.0 <= row["recall_3min"] <= row["recall_any"] <= 1.0
    assert trained[f"{served} (served, not trained on it)"]["threshold"] == config["anomaly_threshold"]
    assert trained["lightgbm_classifier trained on slow_scanner"]["false_alarms_per_gate_hour"] <= 0.4
    per_seed = m["seed_study_by_seed"].values()
    assert all(0.0 <= v["novel_recall_3min"] <= v["novel_recall_any"] <= 1.0 for v in per_seed)
    assert "a classifier trained on slow_scanner faults" in m["anomaly_summary"]["statement"]
    # the second queue engine: its check combinations are never fitted on, and the check is reported
    # for the served model, the same model with (or without) that engine's fit days, and the baseline
    assert set(regimes["second_engine_check"]).isdisjoint(regimes["second_engine_fit"])
    assert regimes["second_engine_fit_days"] > 0
    study = m["seed_study"]
    # the counterpart is the served LightGBM with the other engine mix; a served baseline has none
    expected = (chosen.removesuffix("_one_engine") if chosen.endswith("_one_engine") else f"{chosen}_one_engine") \
        if chosen.startswith("lightgbm_") else None
    assert len(study["fifo_ratio"]["values"]) == 5 and study["fifo_counterpart"] == expected
    check = m["other_engine_check"]
    assert all(isinstance(v, float) for row in check.values() for v in row.values())   # a table the report prints
    assert f"{chosen} (served)" in check and f"{divisor} (baseline)" in check
    assert check[f"{chosen} (served)"]["ratio_mean"] == study["fifo_ratio"]["mean"]
    assert set(m["other_engine_by_combination"]) == {f"fifo/{c}" for c in regimes["second_engine_check"]}
    target = m["targets"]["other_engine_wait_ratio"]
    assert target["met"] == (study["fifo_ratio"]["mean"] <= 0.8) and target["statement"] in m["summary"]["statement"]


def test_per_event_scoring():
    from services.flow import evaluate

    label = np.zeros(60, int)
    onset = np.full(60, np.nan)
    label[20:30], onset[20:30] = 1, 19.5          # one event from minute 19.5 to 30
    flag = np.zeros(60, bool)
    flag[[22, 23, 50]] = True                      # readings at minutes 23-24 (caught, delay 3.5) and 51 (false)
    part = evaluate.score_gate(flag, onset, label)
    assert part["caught"] == [False] and part["delays"] == [3.5] and part["false_alarms"] == 1
    flag[21] = True                                # minute 22: delay 2.5, within 3 minutes
    part = evaluate.score_gate(flag, onset, label)
    assert part["caught"] == [True] and part["delays"] == [2.5] and part["false_alarms"] == 1
    assert part["gate_hours"] == 1.0
    # pooled with a gate whose event is flagged only late (minute 28: 8.5 min after onset) and one never flagged:
    # within 3 minutes 1 of 3, at any time up to GRACE after the end 2 of 3
    late, never = np.zeros(60, bool), np.zeros(60, bool)
    late[27] = True
    pooled = evaluate.pool([part, evaluate.score_gate(late, onset, label), evaluate.score_gate(never, onset, label)])
    assert pooled["events"] == 3 and pooled["recall_3min"] == 1 / 3 and pooled["recall_any"] == 2 / 3
    assert pooled["median_delay_min"] == 5.5          # over the events flagged at all: 2.5 and 8.5


def test_simulated_reading_reports_the_minute_before_it():
    """The count of a reading is the fans through in the minute before its ts, and its processing
    time includes everything a lane spends on a fan (Little's law is not biased by hidden time)."""
    from datetime import datetime, timezone

    from services.flow.simulate import simulate_day
    from services.flow.stadiums import load_stadiums

    rows = simulate_day(load_stadiums()["FES"], 5, datetime(2025, 1, 1, tzinfo=timezone.utc), ["G1"], False,
                        regime="late_rush/security/understaffed")
    assert rows[0]["ts"] == "2025-01-01T00:01:00Z" and rows[0]["perMinuteCount"] >= 0
    busy = [r for r in rows if r["queueLength"] > 200 and r["true_wait"] is not None]
    assert len(busy) > 10
    ratio = np.mean([r["queueLength"] * r["avgProcessingTime"] / r["openLanes"] / 60 / r["true_wait"] for r in busy])
    assert 0.8 < ratio < 1.25, ratio


def test_feature_function_handles_short_windows_and_gaps():
    series = [Reading(60_000 * m, 30, 6.0, 10 * m, 8) for m in (0, 1, 3)]
    x = feature_matrix(windows_from_series(series))
    assert x.shape == (3, len(FEATURE_NAMES))
    assert x[2, FEATURE_NAMES.index("gap_minutes")] == 2.0
    assert x[0, FEATURE_NAMES.index("history")] == 1.0


def test_notebook_runs_small(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {**os.environ, "NOTEBOOK_SMALL": "1", "NOTEBOOK_OUTPUT": str(tmp_path), "MPLBACKEND": "Agg"}
    out = subprocess.run([sys.executable, str(ROOT / "notebooks" / "flow.py")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Little" in out.stdout and (tmp_path / "flow_mae.png").is_file()


@pytest.mark.slow
def test_retraining_with_the_same_seed_gives_identical_artifacts(tmp_path):
    from services.flow import train

    from services.common.reproducibility import assert_reproducible

    files = assert_reproducible(train.main, ["--small", "--seed", "42"], tmp_path)
    assert {"flow.json", "manifest.json"} <= set(files)


@pytest.mark.slow
def test_the_test_regimes_take_no_part_in_any_choice():
    """Scramble the held-out regimes' truth (waits and event labels): every choice stays the same."""
    from services.flow import train

    frame = train.frame_of(train.simulate_days(18, 7, True))
    outcome, _ = train.evaluate_wait(frame, 7, 60)
    anomaly, served, threshold, _ = train.evaluate_anomaly(frame, 7)
    scrambled = frame.copy()
    test = scrambled["split"] == "test"
    rng = np.random.default_rng(0)
    scrambled.loc[test, "wait"] = rng.permutation(scrambled.loc[test, "wait"].to_numpy()) * 3.0
    scrambled.loc[test, "onset_label"] = 1 - scrambled.loc[test, "onset_label"]
    scrambled.loc[test, "label"] = 1 - scrambled.loc[test, "label"]
    outcome2, _ = train.evaluate_wait(scrambled, 7, 60)
    anomaly2, served2, threshold2, _ = train.evaluate_anomaly(scrambled, 7)
    assert outcome2.choice.chosen == outcome.choice.chosen and outcome2.validation == outcome.validation
    assert (served2, threshold2) == (served, threshold) and anomaly2["validation"] == anomaly["validation"]
    assert outcome2.test != outcome.test   # the test table did read the scrambled rows
