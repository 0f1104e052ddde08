"""Number statistics for one era: frequencies, hot and cold numbers, a chi-square test of uniformity.

Chi-square for white balls: the five white balls of a draw are drawn without replacement, so
the per-number counts are less variable than a multinomial's. Pearson's statistic X^2 then
follows (N - 5)/(N - 1) * chi2(N - 1) under fair draws (N = 69: 64/68); the test uses
X^2 * (N - 1)/(N - 5) against chi2(N - 1). For the Powerball (one ball per draw) the plain
Pearson test applies.
"""
from __future__ import annotations

from typing import Any

import numpy as np

HOT_COLD_SIZE = 5
SIGNIFICANCE = 0.05


def chi2_survival(statistic: float, df: int) -> float:
    """P(chi2(df) >= statistic), from scipy: used in training, notebooks and tests only.

    Serving takes the p-values training computed (model.json) so a worker does not import
    scipy (about 80 MB and a second per worker) for two numbers.
    """
    from scipy import stats as sps

    return float(sps.chi2.sf(statistic, df))


def uniformity_test(counts: np.ndarray, balls_per_draw: int, p_value: float | None = None) -> dict[str, Any]:
    """Pearson's test of uniform counts; `p_value` may be given when it was computed earlier
    for exactly these counts (the loader checks that by comparing the statistic)."""
    counts = np.asarray(counts, dtype=np.float64)
    pool = len(counts)
    draws = counts.sum() / balls_per_draw
    expected = draws * balls_per_draw / pool
    pearson = float(np.sum((counts - expected) ** 2 / expected))
    correction = (pool - 1) / (pool - balls_per_draw)
    statistic = pearson * correction
    df = pool - 1
    if p_value is None:
        p_value = chi2_survival(statistic, df)
    if p_value < SIGNIFICANCE:
        verdict = f"the counts are less even than fair draws usually give (p = {p_value:.3g})"
    else:
        verdict = f"consistent with every number being equally likely (p = {p_value:.2f})"
    name = "Pearson chi-square goodness of fit to uniform"
    if balls_per_draw > 1:
        name += f", finite-population corrected x{correction:.4f} (balls drawn without replacement)"
    return {"test": name, "statistic": statistic, "pearson_statistic": pearson, "df": df,
            "p_value": p_value, "draws": int(round(draws)), "expected_per_number": float(expected),
            "statement": verdict}


def since_seen(hits: np.ndarray) -> np.ndarray:
    """Draws since each number last came up (1 = the latest draw); len(hits) + 1 if never."""
    n = len(hits)
    seen = np.where(hits.any(axis=0), n - 1 - np.argmax(hits[::-1] > 0, axis=0), -1)
    return n - seen


def hot_and_cold(hits: np.ndarray, window: int, size: int = HOT_COLD_SIZE) -> dict[str, Any]:
    """The most and least frequent numbers over the last `window` draws (ties: lower number first)."""
    recent = hits[-window:]
    counts = recent.sum(axis=0)
    numbers = np.arange(1, hits.shape[1] + 1)
    hot = np.lexsort((numbers, -counts))[:size]
    cold = np.lexsort((numbers, counts))[:size]
    expected = len(recent) * hits[0].sum() / hits.shape[1] if len(hits) else 0.0
    return {"window": int(len(recent)), "expected_per_number": float(expected),
            "hot": [{"number": int(i) + 1, "count": int(counts[i])} for i in hot],
            "cold": [{"number": int(i) + 1, "count": int(counts[i])} for i in cold]}


def pool_statistics(hits: np.ndarray, balls_per_draw: int, p_value: float | None = None) -> dict[str, Any]:
    """Era-wide frequencies per number and the uniformity test (hot/cold is per request)."""
    counts = hits.sum(axis=0)
    gaps = since_seen(hits)
    frequencies = [{"number": i + 1, "count": int(counts[i]), "share": float(counts[i] / len(hits)),
                    "draws_since_seen": int(gaps[i])} for i in range(hits.shape[1])]
    return {"frequencies": frequencies, "uniformity": uniformity_test(counts, balls_per_draw, p_value)}
