"""The evaluation against chance of the served model's test-window probabilities (training only).

The kernel's flow gives the headline (log loss per ball against the strongest baseline on the
test draws). This module adds what only a lottery needs, on the same test draws:
- log loss per ball and per pool, with a Monte Carlo test: how often would these probabilities
  score this well on truly random draws?
- mean matches of the model's top ticket per draw, with an exact one-sided test (the null
  distribution of the total matches is the sum of independent hypergeometric and Bernoulli
  matches of any ticket chosen before the draw);
- each sorted position against its exact order-statistic distribution;
- mean matches of tickets sampled as /predict samples them (descriptive).
"""
from __future__ import annotations

from math import comb
from typing import Any

import numpy as np

from .eras import Era
from .probability import WHITE_COUNT, TicketSampler, chance_distributions, top_ticket

SAMPLED_TICKETS = 100  # tickets per test draw for the descriptive "as served" matches
MONTE_CARLO = 20_000   # random-draw replicates for the log-loss test
SIGNIFICANCE = 0.05
POSITIONS = [f"white_{k}" for k in range(1, WHITE_COUNT + 1)] + ["powerball"]


def match_pmf(pool: int, picks: int = WHITE_COUNT) -> np.ndarray:
    """P(a fixed ticket of `picks` numbers shares m numbers with a fair draw of `picks` from `pool`)."""
    total = comb(pool, picks)
    return np.array([comb(picks, m) * comb(pool - picks, picks - m) / total for m in range(picks + 1)])


def total_pmf(single: np.ndarray, times: int) -> np.ndarray:
    """The distribution of a sum of `times` independent copies (repeated convolution)."""
    out = np.array([1.0])
    for _ in range(times):
        out = np.convolve(out, single)
    return out


def upper_tail(pmf: np.ndarray, observed: int) -> float:
    return float(min(1.0, pmf[observed:].sum()))


def random_subsets(rng: np.random.Generator, shape: tuple[int, ...], pool: int, picks: int) -> np.ndarray:
    """Uniform random `picks`-subsets of 0..pool-1 (rejection: redraw tuples with a repeat)."""
    out = rng.integers(0, pool, size=(*shape, picks))
    while True:
        ordered = np.sort(out, axis=-1)
        repeat = (np.diff(ordered, axis=-1) == 0).any(axis=-1)
        if not repeat.any():
            return out
        out[repeat] = rng.integers(0, pool, size=(int(repeat.sum()), picks))


def log_loss_test(white_weights: np.ndarray, power_probs: np.ndarray, observed: float, seed: int,
                  replicates: int = MONTE_CARLO) -> dict[str, Any]:
    """Monte Carlo: the model's log loss per ball on fair random draws, replicated; one-sided p."""
    rng = np.random.default_rng(seed)
    n, pool = white_weights.shape
    white_cost = -np.log(white_weights / WHITE_COUNT)
    power_cost = -np.log(power_probs)
    scores = []
    for start in range(0, replicates, 2000):  # chunks keep memory small
        size = min(2000, replicates - start)
        picks = random_subsets(rng, (size, n), pool, WHITE_COUNT)
        white = white_cost[np.arange(n)[None, :, None], picks].sum(axis=-1)
        power = power_cost[np.arange(n)[None, :], rng.integers(0, power_probs.shape[1], size=(size, n))]
        scores.append((white + power).mean(axis=1) / (WHITE_COUNT + 1))
    scores = np.concatenate(scores)
    p_value = float((1 + np.sum(scores <= observed)) / (replicates + 1))
    return {"test": "Monte Carlo: the model's log loss per ball on fair random draws (one-sided)",
            "replicates": replicates, "seed": seed, "null_mean": float(scores.mean()),
            "null_sd": float(scores.std(ddof=1)), "p_value": p_value}


def fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}" if p < 0.1 else f"p = {p:.2f}"


def plain_statement(metrics: dict[str, Any], draws: int) -> str:
    """The evaluation in words a user can read; claims only what the tests measured."""
    top, ll = metrics["top_ticket"], metrics["log_loss"]
    if top["p_value"] < SIGNIFICANCE:
        head = (f"its top ticket matched more numbers than random picks on the last {draws} draws "
                f"({fmt_p(top['p_value'])}, one-sided); one test window at the 5% level, so this may still be luck")
    else:
        head = f"no detectable edge over random picks ({fmt_p(top['p_value'])} on the last {draws} draws)"
    return (f"{head}: its top ticket matched {top['mean_matches']:.2f} numbers per draw vs "
            f"{top['chance_mean_matches']:.2f} expected by chance; log loss per ball {ll['model']:.3f} vs "
            f"{ll['uniform']:.3f} for uniform random picks ({fmt_p(ll['test']['p_value'])})")


def against_chance(white_positions: np.ndarray, white_weights: np.ndarray, power_probs: np.ndarray,
                   white: np.ndarray, power: np.ndarray, era: Era, seed: int) -> dict[str, Any]:
    """Every test-window number, from the (rounded) probabilities the model gave before each draw."""
    n = len(white)
    rows = np.arange(n)
    chance = chance_distributions(era.white_max, era.powerball_max)
    white_ll = float(np.mean(-np.log(white_weights[rows[:, None], white - 1] / WHITE_COUNT)))
    power_ll = float(np.mean(-np.log(power_probs[rows, power - 1])))
    uniform_white, uniform_power = float(np.log(era.white_max)), float(np.log(era.powerball_max))
    per_ball = (WHITE_COUNT * white_ll + power_ll) / (WHITE_COUNT + 1)
    uniform_per_ball = (WHITE_COUNT * uniform_white + uniform_power) / (WHITE_COUNT + 1)

    per_position = {}
    for k in range(WHITE_COUNT):
        actual = white[:, k] - 1
        per_position[POSITIONS[k]] = {
            "model": float(np.mean(-np.log(white_positions[rows, k, actual]))),
            "chance": float(np.mean(-np.log(chance[k][actual]))),
        }
    per_position["powerball"] = {"model": power_ll, "chance": uniform_power}

    tickets = [top_ticket(white_weights[i], power_probs[i]) for i in range(n)]
    white_hits = np.array([len(set(t[0]) & set(white[i].tolist())) for i, t in enumerate(tickets)])
    power_hits = np.array([int(t[1] == power[i]) for i, t in enumerate(tickets)])
    white_total = total_pmf(match_pmf(era.white_max), n)
    power_total = total_pmf(np.array([1 - 1 / era.powerball_max, 1 / era.powerball_max]), n)
    chance_white = WHITE_COUNT * WHITE_COUNT / era.white_max
    chance_power = 1 / era.powerball_max
    observed = int(white_hits.sum() + power_hits.sum())

    sampled_white, sampled_power = [], []
    for i in range(n):
        tickets_white, tickets_power = TicketSampler(white_weights[i], power_probs[i]).sample_arrays(
            SAMPLED_TICKETS, seed + i)
        sampled_white.append(np.isin(tickets_white, white[i]).sum(axis=1))
        sampled_power.append(tickets_power == power[i])
    sampled_white, sampled_power = np.concatenate(sampled_white), np.concatenate(sampled_power)

    log_loss = {"model": per_ball, "uniform": uniform_per_ball,
                "white_model": white_ll, "white_uniform": uniform_white,
                "powerball_model": power_ll, "powerball_uniform": uniform_power,
                "definition": "mean -ln p over the 6 balls of each test draw; a white ball's p is its number's "
                              "expected appearances / 5, the Powerball's p its probability",
                "test": log_loss_test(white_weights, power_probs, per_ball, seed)}
    top = {"mean_matches": observed / n, "chance_mean_matches": chance_white + chance_power,
           "white_mean_matches": float(white_hits.mean()), "white_chance": chance_white,
           "powerball_hit_rate": float(power_hits.mean()), "powerball_chance": chance_power,
           "total_matches": observed, "white_matches": int(white_hits.sum()),
           "powerball_matches": int(power_hits.sum()),
           "test": "exact one-sided: P(total matches >= observed) for tickets chosen before fair draws "
                   "(sum of independent hypergeometric white matches and Bernoulli Powerball matches)",
           "p_value": upper_tail(np.convolve(white_total, power_total), observed),
           "white_p_value": upper_tail(white_total, int(white_hits.sum())),
           "powerball_p_value": upper_tail(power_total, int(power_hits.sum())),
           "match_distribution": np.bincount(white_hits, minlength=WHITE_COUNT + 1).tolist()}
    sampled = {"tickets_per_draw": SAMPLED_TICKETS,
               "mean_matches": float(sampled_white.mean() + sampled_power.mean()),
               "chance_mean_matches": chance_white + chance_power,
               "white_mean_matches": float(sampled_white.mean()), "powerball_hit_rate": float(sampled_power.mean()),
               "note": "tickets drawn as /predict draws them; descriptive (the tickets of one draw are not "
                       "independent)"}
    out = {"log_loss": log_loss, "per_position_log_loss": per_position, "top_ticket": top, "sampled_tickets": sampled}
    out["significance"] = {"primary_test": "top_ticket", "alpha": SIGNIFICANCE, "p_value": top["p_value"],
                           "edge_detected": top["p_value"] < SIGNIFICANCE, "log_loss_p_value": log_loss["test"]["p_value"]}
    out["statement"] = plain_statement(out, n)
    return out
