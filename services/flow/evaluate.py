"""Per-event scoring of an anomaly detector, as an operator meets its alarms (training only).

An event is one injected surge, lane closure or stampede at one gate; an alarm is a run of
consecutive flagged readings. An event is caught "within 3 minutes" when a reading at most
3 minutes after its onset is flagged; its delay is the first flagged reading after the onset
(up to GRACE minutes after its end). An alarm that starts neither during an event nor within
GRACE minutes after one is a false alarm. Confidence intervals resample whole days.
"""
from __future__ import annotations

import numpy as np

GRACE = 15.0        # minutes after an event's end in which a new alarm is its aftermath, not a false one
WITHIN = 3.0        # minutes after onset that count as caught in time


def gate_events(onset: np.ndarray, label: np.ndarray) -> list[tuple[float, float]]:
    """(onset minute, last labelled minute) per event; the reading at index i is at minute i + 1."""
    events: dict[float, list[float]] = {}
    for i, (o, lab) in enumerate(zip(onset, label)):
        if lab and not np.isnan(o):
            events.setdefault(float(o), [float(o), i + 1.0])[1] = i + 1.0
    return [(s, e) for s, e in events.values()]


def score_gate(flag: np.ndarray, onset: np.ndarray, label: np.ndarray) -> dict:
    events = gate_events(onset, label)
    minutes = np.arange(1, len(flag) + 1)
    caught, delays = [], []
    for s, e in events:
        hits = minutes[(minutes > s) & (minutes <= e + GRACE) & flag]
        delay = float(hits[0] - s) if len(hits) else float("inf")
        caught.append(delay <= WITHIN)
        delays.append(delay)
    starts = minutes[flag & ~np.concatenate([[False], flag[:-1]])]
    false = sum(1 for m in starts if not any(s < m <= e + GRACE for s, e in events))
    return {"caught": caught, "delays": delays, "false_alarms": false, "gate_hours": len(flag) / 60.0}


def pool(parts: list[dict]) -> dict:
    caught = [c for p in parts for c in p["caught"]]
    delays = [d for p in parts for d, c in zip(p["delays"], p["caught"]) if np.isfinite(d)]
    hours = sum(p["gate_hours"] for p in parts)
    found = [np.isfinite(d) for p in parts for d in p["delays"]]
    return {"recall_3min": float(np.mean(caught)) if caught else float("nan"),
            # flagged at any time from onset to GRACE minutes after the event's end (a gradual fault's measure)
            "recall_any": float(np.mean(found)) if found else float("nan"),
            "median_delay_min": float(np.median(delays)) if delays else float("nan"),
            "false_alarms_per_gate_hour": sum(p["false_alarms"] for p in parts) / hours if hours else float("nan"),
            "events": len(caught), "gate_hours": round(hours, 1)}


def by_day(days: list[list[dict]]) -> list[dict]:
    """One pooled part per day (a day = its gates' parts), the unit the bootstrap resamples."""
    return [{"caught": [c for g in d for c in g["caught"]], "delays": [x for g in d for x in g["delays"]],
             "false_alarms": sum(g["false_alarms"] for g in d), "gate_hours": sum(g["gate_hours"] for g in d)}
            for d in days]


def with_intervals(day_parts: list[dict], seed: int, n_boot: int = 1000) -> dict:
    """Point metrics over all days with 95% bootstrap intervals over days."""
    point = pool(day_parts)
    rng = np.random.default_rng(seed)
    keys = ("recall_3min", "median_delay_min", "false_alarms_per_gate_hour")
    draws = {k: [] for k in keys}
    for _ in range(n_boot):
        sample = pool([day_parts[i] for i in rng.integers(len(day_parts), size=len(day_parts))])
        for k in keys:
            draws[k].append(sample[k])
    for k in keys:
        lo, hi = np.nanquantile(np.asarray(draws[k], dtype=float), [0.025, 0.975])
        point[f"{k}_ci95"] = [round(float(lo), 4), round(float(hi), 4)]
    point["days"] = len(day_parts)
    return point
