"""A second queue engine: one FIFO queue in front of c lanes, in plain numpy, for the wait model's
robustness (issue 26: a model fitted on one simulator only learned that simulator, not queues).

    python -m services.flow.fifo --out later.csv [--days 15] [--seed 42] [--first 2026-06-01] [--part check]

It shares nothing with `simulate.py` but the reading schema: no SimPy, no staffing plan, no slow
fans, no anomalies, its own arrival shapes and service-time distributions, lanes drawn per gate
(4-16) rather than from stadiums.json. Each gate opens with half its lanes and opens the rest at a
random minute; a fan takes the lane that frees first (a lane not yet open counts as busy until it
opens), so the queue is served strictly in arrival order.

Two factors, held out like the simulator's regimes: the wait model is fitted on the `fit` part
(shapes twin and flat x exponential and lognormal service) and checked on the `check` part, every
combination with a shape or a distribution the fit never saw (single-peak shape, or near-constant
service). No choice is made on the check part; it is scored once, in training's seed study.
"""
from __future__ import annotations

import argparse
import csv
import heapq
import itertools
import sys
from datetime import datetime, timedelta, timezone

import numpy as np

from .simulate import FIELDS
from .stadiums import load_stadiums

MINUTES = 170
SHAPES = ("twin", "flat", "single")
DISTRIBUTIONS = ("exponential", "lognormal", "deterministic")
PARTS = {
    "fit": [c for c in itertools.product(SHAPES, DISTRIBUTIONS) if c[0] != "single" and c[1] != "deterministic"],
    "check": [c for c in itertools.product(SHAPES, DISTRIBUTIONS) if c[0] == "single" or c[1] == "deterministic"],
}
START = datetime(2030, 1, 1, 14, 0, tzinfo=timezone.utc)   # the engine's days are dated apart from the plan's


def arrival_density(shape: str) -> np.ndarray:
    """Share of the day's fans arriving in each minute after the gates open."""
    t = np.arange(MINUTES) + 0.5
    if shape == "twin":       # a first wave, then the pre-kickoff one
        d = np.exp(-0.5 * ((t - 60) / 15) ** 2) + 0.8 * np.exp(-0.5 * ((t - 130) / 10) ** 2)
    elif shape == "flat":     # a steady trickle and a late bump
        d = 1.0 + 2.0 * np.exp(-0.5 * ((t - 140) / 12) ** 2)
    elif shape == "single":
        d = np.exp(-0.5 * ((t - 110) / 25) ** 2)
    else:
        raise ValueError(f"unknown shape {shape}; known: {', '.join(SHAPES)}")
    return d / d.sum()


def service_seconds(rng: np.random.Generator, distribution: str, mean_s: float, n: int) -> np.ndarray:
    if distribution == "exponential":
        return rng.exponential(mean_s, n)
    if distribution == "lognormal":
        return rng.lognormal(np.log(mean_s) - 0.125, 0.5, n)
    if distribution == "deterministic":
        return mean_s * rng.uniform(0.9, 1.1, n)
    raise ValueError(f"unknown distribution {distribution}; known: {', '.join(DISTRIBUTIONS)}")


def serve(arrivals: np.ndarray, service_min: np.ndarray, lanes: int, half: int, full_at: float) -> np.ndarray:
    """Service start of each fan (minutes), arrivals sorted: FIFO, each fan to the lane that frees
    first; the lanes beyond `half` are busy until `full_at`, when they open."""
    free = [0.0] * half + [full_at] * (lanes - half)
    heapq.heapify(free)
    starts = np.empty(len(arrivals))
    for i, (a, d) in enumerate(zip(arrivals, service_min)):
        start = max(heapq.heappop(free), a)
        starts[i] = start
        heapq.heappush(free, start + d)
    return starts


def gate_day(rng: np.random.Generator, stadium: str, gate: str, start: datetime, shape: str,
             distribution: str, day_label: int) -> list[dict]:
    """One gate's readings for a day, in the simulator's schema (no anomalies)."""
    lanes = int(rng.integers(4, 17))
    half = max(1, lanes // 2)
    mean_s = float(rng.uniform(4.0, 14.0))
    full_at = float(rng.uniform(20.0, 80.0))
    fans = int(lanes * 60.0 / mean_s * MINUTES * rng.uniform(0.35, 0.75))
    per_minute = rng.poisson(arrival_density(shape) * fans)
    arrivals = np.sort(np.concatenate([m + rng.random(k) for m, k in enumerate(per_minute)]))
    seconds = service_seconds(rng, distribution, mean_s, len(arrivals))
    starts = serve(arrivals, seconds / 60.0, lanes, half, full_at)
    ends = starts + seconds / 60.0
    rows: list[dict] = []
    proc = mean_s
    for m in range(1, MINUTES + 1):
        done = (ends > m - 1) & (ends <= m)
        if done.any():
            proc = float(seconds[done].mean())
        waiting = int(((arrivals <= m) & (starts > m)).sum())
        joining = (arrivals > m) & (arrivals <= m + 1)
        rows.append({
            "stadiumId": stadium, "gateId": gate, "ts": (start + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "perMinuteCount": int(done.sum()), "avgProcessingTime": round(proc, 2),
            "queueLength": max(0, int(round(waiting * rng.normal(1.0, 0.05)))),
            "openLanes": lanes if m >= full_at else half,
            "true_wait": round(float((starts[joining] - arrivals[joining]).mean()), 4) if joining.any() else None,
            "fans_joining": int(joining.sum()), "anomaly": 0, "anomaly_kind": "", "anomaly_onset": None,
            "day": day_label, "regime": f"fifo/{shape}/{distribution}"})
    return rows


def simulate(n_days: int, seed: int, part: str, first: datetime = START, gates: int = 3) -> list[dict]:
    """`n_days` days of the part's factor combinations in turn, `gates` gates each; seeded per day."""
    if part not in PARTS:
        raise ValueError(f"unknown part {part}; known: {', '.join(PARTS)}")
    stadiums = sorted(load_stadiums().values(), key=lambda s: s.id)
    days = []
    for k in range(n_days):
        shape, distribution = PARTS[part][k % len(PARTS[part])]
        rng = np.random.default_rng([seed, 7_000 + k, list(PARTS).index(part)])
        stadium = stadiums[int(rng.integers(len(stadiums)))]
        start = first + timedelta(days=k)
        rows = [r for g in stadium.gate_ids[:gates] for r in gate_day(rng, stadium.id, g, start, shape, distribution, k)]
        days.append({"k": k, "regime": f"fifo/{shape}/{distribution}", "stadium": stadium.id, "rows": rows})
    return days


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="CSV to write, in the simulator's schema")
    parser.add_argument("--days", type=int, default=15)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--part", choices=list(PARTS), default="check")
    parser.add_argument("--first", default=START.date().isoformat(), help="date of the first day (YYYY-MM-DD)")
    args = parser.parse_args(argv)
    first = datetime.fromisoformat(args.first).replace(hour=14, tzinfo=timezone.utc)
    rows = [r for d in simulate(args.days, args.seed, args.part, first) for r in d["rows"]]
    with open(args.out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} readings over {args.days} days ({args.part}: "
          f"{', '.join('/'.join(c) for c in PARTS[args.part])}) -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
