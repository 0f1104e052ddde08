"""feature_matrix (all windows of a length at once, as /status and training call it) against gate_features,
the per-window definition: every value the same float32, bit for bit."""
from __future__ import annotations

import numpy as np
import pytest

from services.flow.features import FEATURE_NAMES, WINDOW, Reading, feature_matrix, gate_features


def _window(rng: np.random.Generator, length: int) -> list[Reading]:
    kind = rng.integers(0, 6)
    ts = 1_800_000_000_000 + int(rng.integers(0, 10**9))
    out = []
    for _ in range(length):
        if kind == 0:            # idle gate: nothing through, no queue
            count, queue = 0, 0
        elif kind == 1:          # a surge
            count, queue = int(rng.integers(0, 400)), int(rng.integers(0, 5000))
        else:
            count, queue = int(rng.integers(0, 120)), int(rng.integers(0, 600))
        proc = float(rng.choice([rng.uniform(0.1, 30.0), round(rng.uniform(0.5, 12), 2), 3.0]))
        lanes = int(rng.integers(0, 9)) if kind != 2 else 4
        out.append(Reading(ts, count, proc, queue, lanes))
        # minutes apart mostly, sometimes a gap, sometimes the same minute again (no time spread)
        ts += int(rng.choice([60_000, 60_000, 120_000, 0 if kind == 3 else 60_000, int(rng.integers(1, 900_000))]))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_feature_matrix_is_gate_features_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    windows = [_window(rng, int(rng.integers(1, WINDOW + 3))) for _ in range(3000)]
    expected = np.asarray([gate_features(w) for w in windows], dtype=np.float32)
    got = feature_matrix(windows)
    assert got.shape == (len(windows), len(FEATURE_NAMES)) and got.dtype == np.float32
    bad = np.argwhere(~((got == expected) | (np.isnan(got) & np.isnan(expected))))
    assert not len(bad), [(FEATURE_NAMES[j], len(windows[i]), got[i, j], expected[i, j]) for i, j in bad[:5]]


def test_feature_matrix_keeps_the_order_of_mixed_lengths():
    rng = np.random.default_rng(9)
    windows = [_window(rng, n) for n in (10, 1, 3, 10, 2, 7, 10)]
    expected = np.asarray([gate_features(w) for w in windows], dtype=np.float32)
    np.testing.assert_array_equal(feature_matrix(windows), expected)
    assert feature_matrix([]).shape == (0, len(FEATURE_NAMES))
    with pytest.raises(ValueError):
        feature_matrix([windows[0], []])
