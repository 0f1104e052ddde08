"""The manifest's evaluation, recomputed independently from the stored held-out predictions and the raw CSV.

The training code computes every number one way (math.comb + repeated convolution, Monte Carlo);
these tests recompute them another way (scipy distributions, polynomial powers, simulation,
a normal approximation with exact moments) and from the draws read straight from the CSV.
"""
from __future__ import annotations

import csv
import json
from datetime import date, datetime

import numpy as np
import pytest
from numpy.polynomial import polynomial as P
from scipy import stats

from tests.powerball.conftest import CSV

CURRENT_ERA_START = date(2015, 10, 7)


@pytest.fixture(scope="module")
def holdout(powerball_artifact) -> dict:
    return json.loads((powerball_artifact / "holdout.json").read_text())


@pytest.fixture(scope="module")
def metrics(powerball_manifest) -> dict:
    return powerball_manifest["metrics"]


@pytest.fixture(scope="module")
def actual(holdout):
    """The last N draws of the 5/69 era, read from the CSV without the service's parser."""
    rows = []
    with open(CSV, newline="") as handle:
        for row in csv.DictReader(handle):
            day = datetime.strptime(row["Draw Date"], "%m/%d/%Y").date()
            numbers = [int(n) for n in row["Winning Numbers"].split()]
            if day >= CURRENT_ERA_START:
                rows.append((day, sorted(numbers[:5]), numbers[5]))
    rows.sort()
    rows = rows[-len(holdout["dates"]):]
    return {"dates": [r[0].isoformat() for r in rows], "white": np.array([r[1] for r in rows]),
            "power": np.array([r[2] for r in rows])}


def test_test_window_is_the_latest_draws_after_a_validation_window_and_was_not_fitted(holdout, actual, metrics,
                                                                                       powerball_manifest):
    plan = metrics["split_plan"]
    assert plan["kind"] == "rolling_origin" and plan["time"] == "date" and plan["horizon"] == 150
    validation, test = plan["folds"]
    assert (validation["role"], test["role"]) == ("validation", "test")
    assert len(holdout["dates"]) == 150 and test["predict"]["rows"] == 150 * (69 + 26)
    assert holdout["dates"] == actual["dates"]
    assert holdout["white_balls"] == actual["white"].tolist() and holdout["powerball"] == actual["power"].tolist()
    assert test["fit"]["last"] == test["origin"] < test["predict"]["first"] == actual["dates"][0]
    assert test["predict"]["last"] == actual["dates"][-1]
    # the validation window is the 150 draws before, fitted only on draws before it
    assert validation["fit"]["last"] < validation["predict"]["first"]
    assert validation["predict"]["last"] == test["origin"] < test["predict"]["first"]
    assert validation["predict"]["rows"] == test["predict"]["rows"]
    assert powerball_manifest["training"]["holdout"] == 150
    assert holdout["model"] == metrics["choice"]["chosen"]


def test_probabilities_are_distributions(holdout):
    w, p = np.array(holdout["white_weights"]), np.array(holdout["powerball_probs"])
    assert w.shape == (150, 69) and p.shape == (150, 26)
    np.testing.assert_allclose(w.sum(axis=1), 5, atol=1e-5)
    np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-5)
    assert (w > 0).all() and (p > 0).all()


def test_log_loss_per_ball(holdout, actual, metrics):
    w, p = np.array(holdout["white_weights"]), np.array(holdout["powerball_probs"])
    losses = []
    for i in range(150):
        losses += [-np.log(w[i, n - 1] / 5) for n in actual["white"][i]]
        losses.append(-np.log(p[i, actual["power"][i] - 1]))
    ll = metrics["log_loss"]
    assert ll["model"] == pytest.approx(np.mean(losses), rel=1e-9)
    assert ll["uniform"] == pytest.approx((5 * np.log(69) + np.log(26)) / 6, rel=1e-12)
    chosen = metrics["choice"]["chosen"]
    assert metrics["test"][chosen]["log_loss_per_ball"] == pytest.approx(np.mean(losses), rel=1e-9)
    assert metrics["test"]["uniform"]["log_loss_per_ball"] == pytest.approx(ll["uniform"], rel=1e-12)
    summary = metrics["summary"]
    strongest = min(metrics["choice"]["baselines"], key=lambda b: metrics["test"][b]["log_loss_per_ball"])
    assert summary["model"] == chosen and summary["baseline"] == strongest
    assert summary["metric"] == "log_loss_per_ball"
    assert summary["model_score"] == metrics["test"][chosen]["log_loss_per_ball"]
    assert summary["baseline_score"] == metrics["test"][strongest]["log_loss_per_ball"]
    assert summary["beats_baseline"] == (summary["model_score"] < summary["baseline_score"])
    assert ("does NOT beat" in summary["statement"]) == (not summary["beats_baseline"])


def test_log_loss_p_value_by_normal_approximation(holdout, metrics):
    """Under fair draws the model's per-draw loss has exactly computable moments (a white 5-subset
    is a sample without replacement); the CLT over 150 draws must agree with the Monte Carlo p."""
    w, p = np.array(holdout["white_weights"]), np.array(holdout["powerball_probs"])
    cw, cp = -np.log(w / 5), -np.log(p)
    n_pool = 69
    mean = 5 * cw.mean(axis=1) + cp.mean(axis=1)
    var = 5 * cw.var(axis=1) * (n_pool - 5) / (n_pool - 1) + cp.var(axis=1)
    total_mean, total_sd = mean.sum() / (6 * 150), np.sqrt(var.sum()) / (6 * 150)
    test = metrics["log_loss"]["test"]
    assert test["null_mean"] == pytest.approx(total_mean, abs=3 * total_sd / np.sqrt(test["replicates"]) + 1e-9)
    assert test["null_sd"] == pytest.approx(total_sd, rel=0.03)
    p_normal = stats.norm.cdf(metrics["log_loss"]["model"], total_mean, total_sd)
    assert test["p_value"] == pytest.approx(p_normal, abs=0.03)


def independent_top_ticket(weights, power):
    white = sorted(sorted(range(69), key=lambda j: (-weights[j], j))[:5])
    return [j + 1 for j in white], max(range(26), key=lambda j: (power[j], -j)) + 1


def test_top_ticket_matches_and_exact_p_value(holdout, actual, metrics):
    white_hits = power_hits = 0
    for i in range(150):
        ticket, pb = independent_top_ticket(holdout["white_weights"][i], holdout["powerball_probs"][i])
        white_hits += len(set(ticket) & set(actual["white"][i].tolist()))
        power_hits += int(pb == actual["power"][i])
    top = metrics["top_ticket"]
    assert (top["white_matches"], top["powerball_matches"]) == (white_hits, power_hits)
    assert top["mean_matches"] == pytest.approx((white_hits + power_hits) / 150)
    assert top["chance_mean_matches"] == pytest.approx(25 / 69 + 1 / 26)

    # exact null: generating-function power of the hypergeometric pmf, times a binomial
    white_pmf = P.polypow(stats.hypergeom(69, 5, 5).pmf(np.arange(6)), 150)
    power_pmf = stats.binom(150, 1 / 26).pmf(np.arange(151))
    total = P.polymul(white_pmf, power_pmf)
    observed = white_hits + power_hits
    assert top["p_value"] == pytest.approx(total[observed:].sum(), rel=1e-9, abs=1e-12)
    assert top["white_p_value"] == pytest.approx(white_pmf[white_hits:].sum(), rel=1e-9, abs=1e-12)
    assert top["powerball_p_value"] == pytest.approx(stats.binom(150, 1 / 26).sf(power_hits - 1), rel=1e-9)

    # and by simulation of fair draws against fixed tickets
    rng = np.random.default_rng(11)
    per_draw = np.array([np.mean(rng.hypergeometric(5, 64, 5, size=200_000) == m) for m in range(6)])
    assert per_draw == pytest.approx(stats.hypergeom(69, 5, 5).pmf(np.arange(6)), abs=0.003)
    sims = rng.multinomial(150, per_draw / per_draw.sum(), size=50_000) @ np.arange(6) \
        + rng.binomial(150, 1 / 26, size=50_000)
    assert top["p_value"] == pytest.approx(np.mean(sims >= observed), abs=0.01)


def test_significance_and_plain_words_agree(metrics, powerball_artifact):
    top, sig = metrics["top_ticket"], metrics["significance"]
    assert sig["p_value"] == top["p_value"] and sig["alpha"] == 0.05
    assert sig["edge_detected"] == (top["p_value"] < 0.05)
    statement = metrics["statement"]
    p = top["p_value"]
    shown = "p < 0.001" if p < 0.001 else f"p = {p:.2g}" if p < 0.1 else f"p = {p:.2f}"
    assert shown in statement and "last 150 draws" in statement
    if sig["edge_detected"]:
        assert "more numbers than random picks" in statement
    else:
        assert statement.startswith("no detectable edge over random picks")
    assert f"{top['mean_matches']:.2f} numbers per draw vs 0.40 expected by chance" in statement
    model_json = json.loads((powerball_artifact / "model.json").read_text())
    assert model_json["evaluation"] == statement and model_json["edge_detected"] == sig["edge_detected"]


def test_per_position_chance_baselines(metrics, actual):
    """Sorted positions are order statistics, not uniform: their chance baseline is exact."""
    for k in range(5):
        # P(X_(k+1) = j) = P(j drawn) * P(exactly k of the other 4 drawn balls lie below j)
        chance = np.array([5 / 69 * stats.hypergeom(68, j - 1, 4).pmf(k) for j in range(1, 70)])
        assert chance.sum() == pytest.approx(1.0)
        expected = np.mean(-np.log(chance[actual["white"][:, k] - 1]))
        assert metrics["per_position_log_loss"][f"white_{k + 1}"]["chance"] == pytest.approx(expected, rel=1e-9)
    assert metrics["per_position_log_loss"]["powerball"]["chance"] == pytest.approx(np.log(26))
