"""The one feature function, used by training (every past draw) and serving (the next draw).

For a pool of numbers 1..K (white balls or Powerballs) and the draws of one era, the features
of draw t use draws 0..t-1 only:
- rate_<w>: how often each number came up in the last w draws, per draw (hot/cold),
- rate_era: the same over every earlier draw of the era,
- gap: draws since the number was last seen (t + 1 if never seen in the era).
Row t = n (one past the last draw) is the feature row for the next, unknown draw.
"""
from __future__ import annotations

import numpy as np

WINDOWS = (10, 50, 100)
WARMUP = max(WINDOWS)  # training rows start once every window is full
STATISTICS = [*(f"rate_{w}" for w in WINDOWS), "rate_era", "gap"]
DESCRIPTIONS = {
    **{f"rate_{w}": f"float: appearances per draw over the last {w} draws" for w in WINDOWS},
    "rate_era": "float: appearances per draw over every earlier draw of the era",
    "gap": "int: draws since last seen (1 = in the previous draw)",
}


def indicators(numbers: np.ndarray, pool_size: int) -> np.ndarray:
    """(n, k) drawn numbers (1-based) -> (n, pool_size) 0/1 matrix."""
    numbers = np.asarray(numbers, dtype=np.int64).reshape(len(numbers), -1)
    if numbers.size and (numbers.min() < 1 or numbers.max() > pool_size):
        raise ValueError(f"numbers must lie in 1..{pool_size}")
    out = np.zeros((len(numbers), pool_size), dtype=np.float64)
    rows = np.repeat(np.arange(len(numbers)), numbers.shape[1])
    out[rows, numbers.ravel() - 1] = 1.0
    return out


def pool_features(hits: np.ndarray) -> np.ndarray:
    """(n, K) 0/1 hits -> (n + 1, K * len(STATISTICS)) features; row t sees draws 0..t-1."""
    hits = np.asarray(hits, dtype=np.float64)
    n, k = hits.shape
    cum = np.vstack([np.zeros((1, k)), np.cumsum(hits, axis=0)])  # cum[t] = hits in draws 0..t-1
    t = np.arange(n + 1)
    blocks = []
    for w in WINDOWS:
        start = np.maximum(t - w, 0)
        blocks.append((cum[t] - cum[start]) / w)
    blocks.append(cum / np.maximum(t, 1)[:, None])
    seen = np.where(hits > 0, np.arange(n)[:, None], -1)
    last = np.vstack([np.full((1, k), -1), np.maximum.accumulate(seen, axis=0)]) if n else np.full((1, k), -1)
    blocks.append(t[:, None] - last)
    return np.hstack(blocks).astype(np.float32)


def feature_names(prefix: str, pool_size: int) -> list[str]:
    return [f"{prefix}_{number:02d}_{stat}" for stat in STATISTICS for number in range(1, pool_size + 1)]


def feature_descriptions(prefix: str, pool_size: int) -> list[dict[str, str]]:
    return [{"name": f"{prefix}_{number:02d}_{stat}", "type": DESCRIPTIONS[stat]}
            for stat in STATISTICS for number in range(1, pool_size + 1)]
