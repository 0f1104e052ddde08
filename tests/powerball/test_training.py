"""Powerball trains through the kernel flow: chosen on validation draws, served as chosen, reproducible."""
from __future__ import annotations

import json

import numpy as np
import pytest

from services.common.reproducibility import assert_reproducible
from services.powerball import train
from services.powerball.eras import era_draws


@pytest.fixture(scope="module")
def era_data():
    eras, draws = train.load_draws()
    current = era_draws(draws, eras[-1])
    white, power = train.era_arrays(current)
    return white, power, [d.date.isoformat() for d in current], eras[-1]


def test_every_candidate_and_baseline_is_scored_and_the_best_validation_candidate_is_served(powerball_manifest,
                                                                                           powerball_artifact):
    metrics = powerball_manifest["metrics"]
    choice = metrics["choice"]
    names = [*choice["candidates"], *choice["baselines"]]
    assert choice["baselines"] == ["uniform", "era_frequency"]
    assert choice["candidates"] == [f"xgboost_per_position_shrink_{s:g}" for s in train.SHRINKS]
    assert set(metrics["validation"]) == set(metrics["test"]) == set(names)
    best = min(choice["candidates"], key=lambda c: metrics["validation"][c]["log_loss_per_ball"])
    assert choice["chosen"] == best and choice["validation_scores"][best] == metrics["validation"][best][
        "log_loss_per_ball"]
    # uniform is exact chance on every row: its score is the same number in both windows
    assert metrics["validation"]["uniform"]["log_loss_per_ball"] == pytest.approx((5 * np.log(69) + np.log(26)) / 6)
    spec = json.loads((powerball_artifact / "model.json").read_text())
    assert spec["model"] == choice["chosen"] == powerball_manifest["training"]["served"]
    assert f"xgboost_per_position_shrink_{spec['shrink']:g}" == choice["chosen"]


def test_the_served_probabilities_are_the_chosen_candidate_refitted_on_every_draw(loaded_model, powerball_manifest,
                                                                                 era_data):
    """Refit the chosen candidate independently of the CLI: the served next-draw probabilities match it,
    and they do not match the other candidates (so the check can tell them apart)."""
    data = train.Draws(*era_data)
    frame = data.frame()
    rounds, seed = powerball_manifest["training"]["rounds"], powerball_manifest["training"]["seed"]
    next_draw = np.array([len(data.white)])
    gaps = {}
    for shrink in train.SHRINKS:
        model = train.PositionBoost(data, shrink=shrink, rounds=rounds, seed=seed).fit(frame)
        _, weights, power = model.distributions(next_draw)
        gaps[model.name] = max(np.abs(weights[0] - loaded_model.white_weights).max(),
                               np.abs(power[0] - loaded_model.powerball_probs).max())
    chosen = powerball_manifest["metrics"]["choice"]["chosen"]
    assert gaps[chosen] < 1e-5
    assert all(gap > 1e-3 for name, gap in gaps.items() if name != chosen)


def test_replacing_the_test_draws_changes_the_test_table_but_never_the_choice(powerball_manifest, era_data):
    white, power, dates, era = era_data
    rng = np.random.default_rng(0)
    fake_white, fake_power = white.copy(), power.copy()
    for i in range(len(white) - 150, len(white)):   # the test window: fair random draws instead of the real ones
        fake_white[i] = np.sort(rng.choice(np.arange(1, 70), 5, replace=False))
        fake_power[i] = rng.integers(1, 27)
    assert (fake_white[-150:] != white[-150:]).any()
    rounds, seed = powerball_manifest["training"]["rounds"], powerball_manifest["training"]["seed"]
    outcome, metrics, _ = train.evaluate(train.Draws(fake_white, fake_power, dates, era), 150, rounds, seed, True)
    original = powerball_manifest["metrics"]
    assert metrics["choice"] == original["choice"]
    assert metrics["validation"] == original["validation"]
    assert metrics["test"] != original["test"]


def test_retraining_with_the_same_seed_gives_byte_identical_artifacts(tmp_path):
    files = assert_reproducible(train.main, ["--small", "--seed", "42"], tmp_path)
    assert {"manifest.json", "model.json", "draws.json", "holdout.json", "white_1.onnx", "powerball.onnx"} <= set(files)
