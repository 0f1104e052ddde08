"""Chance distributions and the ticket sampler."""
from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
from scipy import stats

from services.powerball.probability import (TicketSampler, chance_distributions, order_statistic_pmf,
                                            position_distribution, top_ticket, white_inclusion)


def test_order_statistics_match_enumeration():
    pool = 12
    subsets = list(combinations(range(1, pool + 1), 5))
    for k in range(1, 6):
        counts = np.bincount([s[k - 1] for s in subsets], minlength=pool + 1)[1:]
        np.testing.assert_allclose(order_statistic_pmf(pool, k), counts / len(subsets))


def test_positions_add_up_to_uniform_numbers():
    chance = chance_distributions(69, 26)
    np.testing.assert_allclose(white_inclusion(np.stack(chance[:5])), np.full(69, 5 / 69))
    np.testing.assert_allclose(chance[5], np.full(26, 1 / 26))


def test_position_distribution_is_model_times_chance_with_shrinkage():
    chance = order_statistic_pmf(69, 1)
    classes = [1, 2, 3, 40]
    raw = np.array([[0.25, 0.25, 0.25, 0.25]])
    full = position_distribution(raw, classes, 69, chance, shrink=0.0)
    assert full.sum() == pytest.approx(1.0)
    expected = chance[[0, 1, 2, 39]] / chance[[0, 1, 2, 39]].sum()
    np.testing.assert_allclose(full[0, [0, 1, 2, 39]], expected)
    assert full[0, 10] == 0.0
    shrunk = position_distribution(raw, classes, 69, chance, shrink=0.05)
    assert shrunk.sum() == pytest.approx(1.0) and shrunk[0, 10] > 0


def test_top_ticket_breaks_ties_by_lower_number():
    weights = np.full(69, 5 / 69)
    weights[[40, 8]] += 0.01
    assert top_ticket(weights, np.eye(26)[12]) == ([1, 2, 3, 9, 41], 13)


def test_tickets_are_valid_and_reproducible():
    sampler = TicketSampler(np.full(69, 5 / 69), np.full(26, 1 / 26))
    white, power = sampler.sample_arrays(50_000, seed=1)
    assert white.shape == (50_000, 5)
    assert np.all(np.diff(white, axis=1) > 0) and white.min() >= 1 and white.max() <= 69
    assert power.min() >= 1 and power.max() <= 26
    assert sampler.sample(5, seed=9) == sampler.sample(5, seed=9)
    assert sampler.sample(5, seed=9) != sampler.sample(5, seed=10)
    # uniform weights give uniform numbers: chi-square on the sampled counts
    counts = np.bincount(white.ravel(), minlength=70)[1:]
    assert stats.chisquare(counts).pvalue > 1e-4


def test_gumbel_sampler_matches_sequential_weighted_draws():
    """The vectorised sampler draws like numpy's choice(replace=False, p=...), ball by ball."""
    rng = np.random.default_rng(0)
    weights = rng.uniform(0.2, 3.0, size=15)
    sampler = TicketSampler(weights, np.ones(3))
    mine, _ = sampler.sample_arrays(20_000, seed=2)
    reference = np.array([rng.choice(15, size=5, replace=False, p=weights / weights.sum()) + 1
                          for _ in range(20_000)])
    a = np.bincount(mine.ravel(), minlength=16)[1:]
    b = np.bincount(reference.ravel(), minlength=16)[1:]
    assert stats.chi2_contingency(np.vstack([a, b])).pvalue > 1e-4
    np.testing.assert_allclose(a / a.sum(), b / b.sum(), atol=0.008)


def test_probabilities_drive_the_sampling():
    weights = np.full(69, 1e-6)
    weights[:10] = 1.0  # almost all weight on 1..10
    power = np.zeros(26)
    power[6] = 1.0
    white, pb = TicketSampler(weights, power).sample_arrays(2_000, seed=3)
    assert np.mean(white <= 10) > 0.999 and set(pb.tolist()) == {7}


@pytest.mark.parametrize("white,power", [
    (np.zeros(69), np.ones(26)), (np.r_[np.ones(68), np.nan], np.ones(26)), (np.ones(4), np.ones(26)),
    (np.ones(69), np.zeros(26)), (np.ones(69), -np.ones(26)),
])
def test_sampler_refuses_bad_probabilities(white, power):
    with pytest.raises(ValueError):
        TicketSampler(white, power)


def _reference_tickets(sampler: TicketSampler, count: int, seed: int) -> list[dict]:
    """The sampler as first written (the slow path): one numpy call per step, choice(p=...) for the Powerball."""
    rng = np.random.default_rng(seed)
    keys = np.log(sampler.white_p)[None, :] + rng.gumbel(size=(count, sampler.white_max))
    white = np.sort(np.argpartition(-keys, 4, axis=1)[:, :5], axis=1) + 1
    power = rng.choice(sampler.powerball_max, size=count, p=sampler.powerball_p) + 1
    return [{"white_balls": [int(n) for n in w], "powerball": int(p)} for w, p in zip(white, power)]


def test_sampler_gives_exactly_the_tickets_of_the_reference_draws():
    """Precomputed log weights and Powerball CDF change no ticket: same seed, same tickets, ball for ball."""
    rng = np.random.default_rng(7)
    for trial in range(20):
        sampler = TicketSampler(rng.uniform(0.01, 1.0, 69), rng.uniform(0.0, 1.0, 26) * (rng.random(26) > 0.1))
        for seed in rng.integers(0, 2**32 - 1, size=150):
            count = int(rng.integers(1, 11))
            assert sampler.sample(count, int(seed)) == _reference_tickets(sampler, count, int(seed)), (trial, seed)
