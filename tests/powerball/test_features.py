"""The feature function against a plain loop, and its use of the past only."""
from __future__ import annotations

import numpy as np

from services.powerball.features import (STATISTICS, WINDOWS, feature_descriptions, feature_names, indicators,
                                         pool_features)


def naive_features(draws: list[set[int]], pool: int) -> np.ndarray:
    rows = []
    for t in range(len(draws) + 1):
        past = draws[:t]
        row = []
        for w in WINDOWS:
            row += [sum(j in d for d in past[-w:]) / w if t else 0.0 for j in range(1, pool + 1)]
        row += [sum(j in d for d in past) / max(t, 1) for j in range(1, pool + 1)]
        for j in range(1, pool + 1):
            seen = [i for i, d in enumerate(past) if j in d]
            row.append(t - seen[-1] if seen else t + 1)
        rows.append(row)
    return np.array(rows, dtype=np.float32)


def test_pool_features_match_a_plain_loop():
    rng = np.random.default_rng(3)
    pool = 12
    draws = [set(rng.choice(np.arange(1, pool + 1), size=3, replace=False).tolist()) for _ in range(130)]
    hits = indicators(np.array([sorted(d) for d in draws]), pool)
    fast = pool_features(hits)
    assert fast.shape == (131, pool * len(STATISTICS))
    np.testing.assert_allclose(fast, naive_features(draws, pool), rtol=1e-6)


def test_row_t_uses_only_earlier_draws():
    rng = np.random.default_rng(4)
    hits = indicators(rng.integers(1, 27, size=(150, 1)), 26)
    base = pool_features(hits)
    changed = hits.copy()
    changed[120] = np.roll(changed[120], 5)  # rewrite draw 120
    after = pool_features(changed)
    np.testing.assert_array_equal(base[:121], after[:121])
    assert not np.array_equal(base[121:], after[121:])


def test_names_and_descriptions_follow_the_columns():
    names = feature_names("white", 69)
    assert len(names) == 69 * len(STATISTICS) == pool_features(np.zeros((3, 69))).shape[1]
    assert names[0] == "white_01_rate_10" and names[-1] == "white_69_gap"
    assert [d["name"] for d in feature_descriptions("white", 69)] == names


def test_indicators_refuse_numbers_outside_the_pool():
    import pytest

    with pytest.raises(ValueError):
        indicators(np.array([[0, 1]]), 5)
    with pytest.raises(ValueError):
        indicators(np.array([[6, 1]]), 5)
