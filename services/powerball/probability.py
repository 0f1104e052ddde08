"""Chance, the model's probabilities, and ticket sampling (shared by training and serving).

Numpy and the standard library only. Positions are the sorted white balls (white_1 is the
smallest) and the Powerball, as in the seed's per-position models. Under a fair draw the
k-th smallest of 5 white balls from 1..N is not uniform: P(X_(k) = j) = C(j-1, k-1) C(N-j, 5-k)
/ C(N, 5). Per number, though, every white ball is equally likely (5/N per draw), so the
uniform distribution is the exact chance baseline for "which numbers come up".
"""
from __future__ import annotations

from bisect import bisect_right
from math import comb

import numpy as np

WHITE_COUNT = 5


def order_statistic_pmf(pool_size: int, position: int, picks: int = WHITE_COUNT) -> np.ndarray:
    """P(k-th smallest of `picks` distinct numbers drawn from 1..pool_size equals j), j = 1..pool_size."""
    if not 1 <= position <= picks:
        raise ValueError("position must be 1..picks")
    total = comb(pool_size, picks)
    return np.array([comb(j - 1, position - 1) * comb(pool_size - j, picks - position) / total
                     for j in range(1, pool_size + 1)])


def chance_distributions(white_max: int, powerball_max: int) -> list[np.ndarray]:
    """The exact chance distribution of each position: white_1..white_5 (sorted), Powerball."""
    return ([order_statistic_pmf(white_max, k) for k in range(1, WHITE_COUNT + 1)]
            + [np.full(powerball_max, 1.0 / powerball_max)])


def position_distribution(raw: np.ndarray, classes: list[int], pool_size: int, chance: np.ndarray,
                          shrink: float) -> np.ndarray:
    """A position classifier's ONNX probabilities -> a distribution over all numbers 1..pool_size.

    The classifiers are trained with base_margin = ln(chance) (they learn departures from chance)
    and a constant base_score, so their own output is softmax(trees) and the full model is
    softmax(trees + ln chance), i.e. raw * chance renormalised. Numbers never seen at a position
    in training get 0 there; mixing in the chance distribution with weight `shrink` keeps every
    possible number above 0.
    """
    classes_idx = np.asarray(classes) - 1
    chance = np.asarray(chance, dtype=np.float64)
    raw = np.asarray(raw, dtype=np.float64).reshape(-1, len(classes))
    weighted = raw * chance[classes_idx][None, :]
    full = np.zeros((raw.shape[0], pool_size))
    full[:, classes_idx] = weighted / weighted.sum(axis=1, keepdims=True)
    return (1.0 - shrink) * full + shrink * chance[None, :]


def white_inclusion(position_probs: np.ndarray) -> np.ndarray:
    """(..., 5, N) per-position probabilities -> (..., N) expected appearances per number (sums to 5)."""
    return np.asarray(position_probs).sum(axis=-2)


def top_ticket(white_weights: np.ndarray, powerball_probs: np.ndarray) -> tuple[list[int], int]:
    """The model's single most likely ticket: the 5 heaviest white balls (ties: lower number), top Powerball."""
    order = np.lexsort((np.arange(len(white_weights)), -np.asarray(white_weights)))
    white = sorted(int(i) + 1 for i in order[:WHITE_COUNT])
    return white, int(np.argmax(powerball_probs)) + 1


class TicketSampler:
    """Tickets drawn from the model's probabilities: white balls without replacement, weighted by
    each number's expected appearances, and one Powerball from its distribution.

    White balls use the Gumbel top-k trick: the 5 largest of ln(weight) + Gumbel noise are
    distributed exactly as drawing balls one at a time, each with probability proportional to its
    weight among the balls left (numpy's choice(replace=False, p=...)), vectorised over tickets.
    """

    def __init__(self, white_weights: np.ndarray, powerball_probs: np.ndarray):
        white = np.asarray(white_weights, dtype=np.float64)
        power = np.asarray(powerball_probs, dtype=np.float64)
        if white.ndim != 1 or len(white) < WHITE_COUNT or np.any(white <= 0) or not np.all(np.isfinite(white)):
            raise ValueError("white weights must be positive and finite")
        if power.ndim != 1 or np.any(power < 0) or not np.all(np.isfinite(power)) or power.sum() <= 0:
            raise ValueError("Powerball probabilities must be non-negative and finite")
        self.white_p = white / white.sum()
        self.powerball_p = power / power.sum()
        self.white_max = len(white)
        self.powerball_max = len(power)
        # Computed once, not per ticket request: the Gumbel keys' log weights, and the Powerball's
        # cumulative distribution exactly as numpy's Generator.choice(p=...) builds it (cumsum, then
        # divided by its last value), so searchsorted(uniform, side="right") picks what choice picks.
        self._log_white = np.log(self.white_p)
        cdf = self.powerball_p.cumsum()
        cdf /= cdf[-1]
        self._powerball_cdf = cdf
        self._powerball_cdf_list = cdf.tolist()

    def sample_arrays(self, count: int, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
        """(count, 5) sorted white balls and (count,) Powerballs, 1-based.

        The same draws from the same generator as `choice(self.powerball_max, size=count, p=...)` after
        the Gumbel noise (tests/powerball/test_probability.py checks it), with fewer numpy calls: on the
        request path each numpy call costs several microseconds with cold caches.
        """
        rng = np.random.default_rng(seed)
        keys = self._log_white + rng.gumbel(size=(count, self.white_max))
        white = np.sort(np.argpartition(-keys, WHITE_COUNT - 1, axis=1)[:, :WHITE_COUNT], axis=1) + 1
        power = self._powerball_cdf.searchsorted(rng.random(count), side="right") + 1
        return white, power

    def sample(self, count: int, seed: int | None) -> list[dict]:
        """sample_arrays' tickets as JSON-ready dicts, with fewer numpy calls on the request path: the noise
        added in place, the five largest keys taken as the last five of an ascending partition (the same set
        as the first five of the descending one: the keys are continuous), the Powerball's CDF searched
        with bisect on a list (searchsorted side="right" is bisect_right); tests/powerball/
        test_probability.py checks them ticket for ticket against the reference draws."""
        rng = np.random.default_rng(seed)
        keys = rng.gumbel(size=(count, self.white_max))
        keys += self._log_white
        top = np.argpartition(keys, self.white_max - WHITE_COUNT, axis=1)[:, self.white_max - WHITE_COUNT:]
        top.sort(axis=1)
        cdf = self._powerball_cdf_list
        return [{"white_balls": [b + 1 for b in w], "powerball": bisect_right(cdf, u) + 1}
                for w, u in zip(top.tolist(), rng.random(count).tolist())]
