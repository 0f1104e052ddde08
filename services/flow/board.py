"""The status board's rules, apart from HTTP: gate states, staleness, counts and redirects.

- A gate with no reading is `unknown`; one whose newest reading is older than the stale limit is
  `stale` (grey on the board): it shows how old its reading is, raises no anomaly, is left out of
  the green/yellow/red counts and is never a redirect target.
- Redirects: yellow and red gates, worst first, send part of their arrivals to the live gate that
  saves the most time after the walk, counting the load each redirect adds: `fans_per_minute`
  sent for REDIRECT_MINUTES add fans x minutes / capacity to the target's wait, which must stay
  out of red and still save at least MIN_SAVING minutes. The next source sees the target with
  that load on it, so fans spread instead of all being sent to the same gate.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Sequence

from .features import Reading, little_wait
from .stadiums import Stadium

REDIRECT_MINUTES = 10.0   # a redirect is planned for this long (the board refreshes well before)
REDIRECT_SHARE = 0.5      # at most this share of a gate's arrivals is sent elsewhere (signs reach part of a crowd)
MIN_SAVING = 1.0          # minutes a redirected fan must save, walk included
STATES = ("green", "yellow", "red", "stale", "unknown")


def iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, timezone.utc).isoformat().replace("+00:00", "Z")


# A gate's newest reading stays the same over many boards: its time is formatted once per worker.
reading_iso = lru_cache(maxsize=4096)(iso)


@dataclass
class GateInput:
    """What the board needs from one gate: its newest in-order reading and the model's answer."""
    gate_id: str
    newest: Reading | None
    wait: float | None = None
    anomaly: bool = False
    anomaly_score: float | None = None
    capacity_per_min: float = 0.0     # fans per minute its open lanes pass
    arrivals_per_min: float = 0.0     # fans per minute joining its queue lately


def state_of(wait: float, green_below: float, red_above: float) -> str:
    if wait < green_below:
        return "green"
    return "red" if wait > red_above else "yellow"


def gate_entry(g: GateInput, now_ms: float, stale_seconds: float, green_below: float, red_above: float) -> dict:
    if g.newest is None or g.wait is None:
        return {"gateId": g.gate_id, "wait": None, "state": "unknown", "anomaly": False, "anomalyScore": None,
                "last_updated": None, "age_seconds": None, "stale": True, "queueLength": None, "openLanes": None,
                "perMinuteCount": None, "littles_law_wait": None, "redirect": None}
    cur = g.newest
    age = max(0.0, (now_ms - cur.ts_ms) / 1000.0)
    stale = age > stale_seconds
    return {"gateId": g.gate_id, "wait": round(g.wait, 2),
            "state": "stale" if stale else state_of(g.wait, green_below, red_above),
            "anomaly": bool(g.anomaly) and not stale,
            "anomalyScore": None if g.anomaly_score is None else round(g.anomaly_score, 4),
            "last_updated": reading_iso(cur.ts_ms), "age_seconds": round(age, 1), "stale": stale,
            "queueLength": cur.queue, "openLanes": cur.lanes, "perMinuteCount": cur.count,
            "littles_law_wait": round(little_wait(cur.queue, cur.proc, cur.lanes), 2), "redirect": None}


def plan_redirects(entries: list[dict], inputs: dict[str, GateInput], stadium: Stadium, red_above: float) -> None:
    """Fill `redirect` of yellow and red gates in place (see the module docstring)."""
    live = [e for e in entries if e["state"] in ("green", "yellow", "red")]
    sources = sorted((e for e in live if e["state"] in ("yellow", "red")), key=lambda e: -e["wait"])
    source_ids = {e["gateId"] for e in sources}
    projected = {e["gateId"]: e["wait"] for e in live if e["gateId"] not in source_ids}
    for s in sources:
        want = inputs[s["gateId"]].arrivals_per_min * REDIRECT_SHARE
        best = None
        for t_id, t_wait in projected.items():
            capacity = inputs[t_id].capacity_per_min
            if capacity <= 0 or want < 1:
                continue
            walk = stadium.walk(s["gateId"], t_id)
            # the most extra wait the target may take: stay out of red, and still save MIN_SAVING
            room = min(red_above - t_wait, s["wait"] - walk - MIN_SAVING - t_wait)
            fans = min(want, room * capacity / REDIRECT_MINUTES)
            if fans < 1:
                continue
            after = t_wait + fans * REDIRECT_MINUTES / capacity
            saving = s["wait"] - (after + walk)
            if best is None or (saving, fans) > (best["saving_minutes"], best["fans_per_minute"]):
                best = {"gateId": t_id, "wait": round(t_wait, 2), "walk_minutes": walk,
                        "saving_minutes": round(saving, 2), "fans_per_minute": round(fans, 1),
                        "target_wait_after": round(after, 2)}
        if best is not None:
            projected[best["gateId"]] = best["target_wait_after"]
            s["redirect"] = best


def build_board(stadium: Stadium, inputs: Sequence[GateInput], now_ms: float, stale_seconds: float,
                green_below: float, red_above: float) -> dict:
    """Every gate's entry, the state counts (stale and unknown gates apart) and the redirects."""
    entries = [gate_entry(g, now_ms, stale_seconds, green_below, red_above) for g in inputs]
    plan_redirects(entries, {g.gate_id: g for g in inputs}, stadium, red_above)
    counts = {s: sum(e["state"] == s for e in entries) for s in STATES}
    return {"gates": entries, "counts": counts}
