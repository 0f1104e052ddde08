"""SimPy gate simulator: a match day's turnstile readings, with every fan's true wait.

    python -m services.flow.simulate --stadium RABAT --seed 7 [--regime NAME] [--gates G1,G2] --out day.csv
    python -m services.flow.simulate --stadium RABAT --replay http://127.0.0.1:8080 [--at 120] [--speed 1]

Model of a gate: fans arrive in small groups along a pre-kickoff curve, join one FIFO queue and
are served by the open lanes. A day runs under a *regime*, three factors drawn per day:
- arrivals: `early` (log-normal minutes before kickoff, peak 40-55 min before), `late_rush`
  (peak 18-28 min before), or `door_counts` (the shape of one real day of building door counts,
  data/entry_counts, the busiest three hours stretched over the gate's opening hours);
- service: `standard` (log-normal, mean 5-8 s, 3% slow fans), `security` (gamma, mean 8-11 s,
  8% bag searches), `express` (e-tickets, mean 3-4.5 s, 1% slow);
- staffing: `standard` (60% of lanes at opening, all of them 120 min before kickoff) or
  `understaffed` (40%, then 75% after an hour, all only 50 min before kickoff).

Injected, labelled anomalies (per gate): surge (a bus or tram load, 300-900 extra fans within
3-8 minutes), lane_closure (half the lanes close for 8-20 minutes), stampede (1200-2500 fans in
3-5 minutes while stewards wave fans through: service collapses to about a second).

Each gate emits one reading per minute, what a turnstile system can observe when it reports:
ts (the end of the minute), perMinuteCount (fans through in that minute, the one *before* ts),
avgProcessingTime (mean seconds a lane was busy per fan who passed in that minute, or the
previous value when nobody passed), queueLength (camera count at ts, 5% noise) and openLanes
(at ts). Nothing a lane spends on a fan is hidden from avgProcessingTime. The truth per
reading is the mean wait (minutes from joining to reaching a lane) of the fans who join in the
minute after ts: the wait the status board should show a fan arriving now.
"""
from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np
import simpy

from services.common.auth import client_headers

from .stadiums import Stadium, load_stadiums

OPEN_BEFORE = 150          # gates open 150 minutes before kickoff
AFTER_KICKOFF = 20         # and readings continue 20 minutes after it
DAY_MINUTES = OPEN_BEFORE + AFTER_KICKOFF
ANOMALY_KINDS = ("surge", "lane_closure", "stampede")
FIELDS = ["stadiumId", "gateId", "ts", "perMinuteCount", "avgProcessingTime", "queueLength", "openLanes",
          "true_wait", "fans_joining", "anomaly", "anomaly_kind", "anomaly_onset", "day", "regime"]
DOOR_COUNTS = Path(__file__).resolve().parents[2] / "data" / "entry_counts" / "calit2_door_counts_30min.csv"

ARRIVALS = ("early", "late_rush", "door_counts")
SERVICES = ("standard", "security", "express")
STAFFING = ("standard", "understaffed")
REGIMES = ["/".join(r) for r in itertools.product(ARRIVALS, SERVICES, STAFFING)]
DEFAULT_REGIME = "early/standard/standard"


@dataclass
class Anomaly:
    kind: str
    start: float      # minutes after the gates open
    duration: float
    size: int = 0     # extra fans (surge, stampede) or lanes closed (lane_closure)


@dataclass
class GateDay:
    gate_id: str
    lanes: int
    fans: int
    regime: str
    service_mean_s: float
    curve: np.ndarray | None = None          # door_counts: arrival density per minute of the day
    curve_params: tuple[float, float] = (38.0, 0.65)
    staffing: tuple[tuple[float, float], ...] = ((0.0, 0.6), (30.0, 1.0))  # (minute, share of lanes open)
    anomalies: list[Anomaly] = field(default_factory=list)


@lru_cache(maxsize=2)
def door_count_days(path: Path = DOOR_COUNTS) -> list[tuple[str, np.ndarray]]:
    """Busy days of the door counts: 7 half-hour in-counts ending one bin after the day's peak."""
    by_day: dict[str, list[int]] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            by_day.setdefault(row["timestamp_local"][:10], []).append(int(row["in_count"]))
    days = []
    for date, counts in sorted(by_day.items()):
        if len(counts) != 48 or sum(counts) < 150:   # weekends and holidays: too few people for a shape
            continue
        peak = int(np.argmax(counts))
        lo = max(0, min(peak - 5, 48 - 7))
        days.append((date, np.asarray(counts[lo:lo + 7], dtype=float)))
    return days


def door_curve(bins: np.ndarray) -> np.ndarray:
    """A per-minute arrival density over the day from seven half-hour counts (linear cumulative)."""
    edges = np.linspace(0.0, DAY_MINUTES, len(bins) + 1)
    cumulative = np.concatenate([[0.0], np.cumsum(bins + 0.5)])   # +0.5: no bin is ever empty
    minutes = np.arange(DAY_MINUTES + 1, dtype=float)
    cdf = np.interp(minutes, edges, cumulative)
    density = np.diff(cdf)
    kernel = np.exp(-0.5 * (np.arange(-20, 21) / 7.0) ** 2)    # no steps at the half-hour edges
    density = np.convolve(np.pad(density, 20, mode="edge"), kernel / kernel.sum(), mode="valid")
    density = density ** 2        # a crowd heading for a kickoff is more peaked than a building's day
    return density / density.sum()


SERVICE_MEAN_S = {"standard": (7.0, 10.0), "security": (10.0, 14.0), "express": (4.0, 6.0)}


def plan_day(stadium: Stadium, rng: np.random.Generator, gates: list[str] | None = None,
             anomalies: bool = True, anomaly_rate: float = 1.0, regime: str = DEFAULT_REGIME,
             door_days: list[tuple[str, np.ndarray]] | None = None, novel: bool = False) -> list[GateDay]:
    """Draw a match day under a regime: attendance, each gate's share and speed, injected anomalies.

    `novel`: the anomalies are instead of a kind no detector was written around or trained on,
    slow_scanner (a scanner fault: processing time rises gradually, to 2-3x over 10-20 minutes,
    and stays there until the event ends, 5 minutes later), for evaluating detectors only."""
    arrivals, service, staffing = regime.split("/")
    if arrivals not in ARRIVALS or service not in SERVICES or staffing not in STAFFING:
        raise ValueError(f"unknown regime {regime}; known: {', '.join(REGIMES)}")
    fill = rng.uniform(0.55, 1.0)
    weights = rng.dirichlet(np.full(len(stadium.gates), 12.0))
    shape = (float(rng.uniform(40, 55)), float(rng.uniform(0.55, 0.75))) if arrivals == "early" else \
        (float(rng.uniform(18, 28)), float(rng.uniform(0.45, 0.6)))
    curve = None
    if arrivals == "door_counts":
        pool = door_days if door_days is not None else door_count_days()
        curve = door_curve(pool[int(rng.integers(len(pool)))][1])
    steps = ((0.0, 0.6), (30.0, 1.0)) if staffing == "standard" else ((0.0, 0.4), (60.0, 0.75), (100.0, 1.0))
    plan = []
    for gate, share in zip(stadium.gates, weights):
        day = GateDay(gate.id, gate.lanes, int(stadium.capacity * fill * share), regime, float(rng.uniform(*SERVICE_MEAN_S[service])),
                      curve, shape, steps)
        if gates and gate.id not in gates:
            continue
        if anomalies and novel:
            for _ in range(max(1, rng.poisson(anomaly_rate))):
                ramp = float(rng.uniform(10, 20))
                day.anomalies.append(Anomaly("slow_scanner", rng.uniform(20, DAY_MINUTES - 40), ramp + 5.0,
                                             int(round(100 * rng.uniform(2.0, 3.0)))))   # size: peak factor x 100
        elif anomalies:
            for _ in range(rng.poisson(anomaly_rate)):
                kind = ANOMALY_KINDS[rng.choice(3, p=[0.45, 0.4, 0.15])]
                start = rng.uniform(20, DAY_MINUTES - 25)
                if kind == "surge":
                    day.anomalies.append(Anomaly(kind, start, rng.uniform(3, 8), int(rng.uniform(300, 900))))
                elif kind == "lane_closure":
                    day.anomalies.append(Anomaly(kind, start, rng.uniform(8, 20), max(1, gate.lanes // 2)))
                else:
                    day.anomalies.append(Anomaly(kind, start, rng.uniform(3, 5), int(rng.uniform(1200, 2500))))
        plan.append(day)
    return plan


class GateSim:
    """One gate: a FIFO queue in front of its lanes. Services are timeout events with callbacks
    (no process per fan), so a match day of tens of thousands of fans simulates in well under a second."""

    def __init__(self, env: simpy.Environment, day: GateDay, rng: np.random.Generator):
        self.env, self.day, self.rng = env, day, rng
        self.service = day.regime.split("/")[1]
        self.free = day.lanes          # open lanes not serving anyone
        self.closed = 0                # lanes closed (early staffing, faults)
        self.to_close = 0              # closures waiting for a lane to finish its fan
        self.queue: deque[float] = deque()
        n = DAY_MINUTES + 2
        self.done_count = np.zeros(n, dtype=int)
        self.done_service = np.zeros(n)
        self.wait_sum = np.zeros(n)
        self.wait_n = np.zeros(n, dtype=int)
        self.lanes_at = np.zeros(n, dtype=int)
        self.queue_at = np.zeros(n, dtype=int)
        self.waved = [(a.start, a.start + a.duration + 2) for a in day.anomalies if a.kind == "stampede"]
        self.slow = [a for a in day.anomalies if a.kind == "slow_scanner"]

    def service_seconds(self, now: float) -> float:
        """Seconds a lane is busy with one fan: ticket, bag check and the turnstile's rotation."""
        if any(lo <= now < hi for lo, hi in self.waved):
            return self.rng.uniform(0.5, 1.5)
        mean = self.day.service_mean_s
        for a in self.slow:
            if a.start <= now < a.start + a.duration:   # ramps to its peak over duration - 5 minutes
                mean *= 1.0 + (a.size / 100.0 - 1.0) * min(1.0, (now - a.start) / (a.duration - 5.0))
        if self.service == "security":
            service, slow, extra = self.rng.gamma(2.0, mean / 2.0), 0.08, (15, 40)
        elif self.service == "express":
            service, slow, extra = self.rng.lognormal(math.log(mean) - 0.045, 0.3), 0.01, (10, 30)
        else:
            service, slow, extra = self.rng.lognormal(math.log(mean) - 0.08, 0.4), 0.03, (20, 60)
        if self.rng.random() < slow:
            service += self.rng.uniform(*extra)
        return service

    def dispatch(self) -> None:
        while self.free > 0 and self.to_close > 0:
            self.free -= 1
            self.to_close -= 1
            self.closed += 1
        now = self.env.now
        while self.free > 0 and self.queue:
            arrived = self.queue.popleft()
            self.free -= 1
            minute = int(arrived)
            if minute <= DAY_MINUTES:
                self.wait_sum[minute] += now - arrived
                self.wait_n[minute] += 1
            service = self.service_seconds(now)
            done = self.env.timeout(service / 60.0, value=service)
            done.callbacks.append(self.finish)

    def finish(self, event) -> None:
        end = int(self.env.now)
        if end <= DAY_MINUTES:
            self.done_count[end] += 1
            self.done_service[end] += event.value
        self.free += 1
        self.dispatch()

    def close_lanes(self, at: float, lanes: int, duration: float):
        yield self.env.timeout(at)
        self.to_close += lanes
        self.dispatch()
        yield self.env.timeout(duration)
        self.reopen(lanes)

    def reopen(self, lanes: int) -> None:
        pending = min(self.to_close, lanes)
        self.to_close -= pending
        reopened = lanes - pending
        self.closed -= reopened
        self.free += reopened
        self.dispatch()

    def staff(self):
        """Stewards open lanes in steps (the regime's staffing plan)."""
        steps = self.day.staffing
        closed = self.day.lanes - max(1, math.ceil(self.day.lanes * steps[0][1]))
        self.to_close += closed
        self.dispatch()
        for minute, share in steps[1:]:
            yield self.env.timeout(minute - self.env.now)
            target = self.day.lanes - max(1, math.ceil(self.day.lanes * share))
            self.reopen(closed - target)
            closed = target

    def arrivals(self, times: np.ndarray):
        i, n = 0, len(times)
        while i < n:
            t = times[i]
            if t > self.env.now:
                yield self.env.timeout(t - self.env.now)
            while i < n and times[i] <= self.env.now:
                self.queue.append(float(times[i]))
                i += 1
            self.dispatch()

    def monitor(self):
        while True:
            yield self.env.timeout(1.0)
            m = int(round(self.env.now))
            if m > DAY_MINUTES:
                return
            self.lanes_at[m] = self.day.lanes - self.closed
            self.queue_at[m] = len(self.queue)


def arrival_times(day: GateDay, rng: np.random.Generator) -> np.ndarray:
    groups = max(1, int(day.fans / 2.2))
    if day.curve is not None:
        minute = rng.choice(DAY_MINUTES, size=groups, p=day.curve)
        times = minute + rng.random(groups)
    else:
        median, sigma = day.curve_params
        before = rng.lognormal(math.log(median), sigma, size=groups)
        times = OPEN_BEFORE - np.clip(before, -AFTER_KICKOFF, OPEN_BEFORE - 0.01)
    sizes = rng.choice([1, 2, 3, 4, 5], size=groups, p=[0.3, 0.3, 0.2, 0.12, 0.08])
    parts = [np.repeat(times, sizes)]
    for a in day.anomalies:
        if a.kind in ("surge", "stampede"):
            parts.append(rng.uniform(a.start, a.start + a.duration, size=a.size))
    return np.sort(np.concatenate(parts))


def simulate_day(stadium: Stadium, seed: int, start: datetime, gates: list[str] | None = None,
                 anomalies: bool = True, day_label: int | str = 0, regime: str = DEFAULT_REGIME,
                 door_days: list[tuple[str, np.ndarray]] | None = None, novel: bool = False) -> list[dict]:
    """Run one match day; rows in time order (minute, then gate), with truth columns.

    `start` is when the gates open; the reading at start + m minutes covers minute m - 1 .. m."""
    rng = np.random.default_rng(seed)
    plan = plan_day(stadium, rng, gates, anomalies, regime=regime, door_days=door_days, novel=novel)
    env = simpy.Environment()
    sims = []
    for day in plan:
        sim = GateSim(env, day, rng)
        env.process(sim.staff())
        for a in day.anomalies:
            if a.kind == "lane_closure":
                env.process(sim.close_lanes(a.start, a.size, a.duration))
        env.process(sim.arrivals(arrival_times(day, rng)))
        env.process(sim.monitor())
        sims.append(sim)
    env.run(until=DAY_MINUTES + 30)
    rows = []
    for sim in sims:
        last_proc = 0.0
        for m in range(1, DAY_MINUTES + 1):
            n = int(sim.done_count[m - 1])            # fans through in the minute before the reading
            if n:
                last_proc = sim.done_service[m - 1] / n
            # an event is labelled on the readings whose minute overlaps it
            active = [a for a in sim.day.anomalies if a.start < m and m - 1 < a.start + a.duration]
            joining = int(sim.wait_n[m]) if m < DAY_MINUTES else 0
            true_q = sim.queue_at[m]
            seen_q = int(max(0, round(true_q * rng.normal(1.0, 0.05))))
            rows.append({
                "stadiumId": stadium.id, "gateId": sim.day.gate_id,
                "ts": (start + timedelta(minutes=m)).isoformat().replace("+00:00", "Z"),
                "perMinuteCount": n, "avgProcessingTime": round(last_proc, 2), "queueLength": seen_q,
                "openLanes": int(sim.lanes_at[m]),
                "true_wait": round(sim.wait_sum[m] / joining, 4) if joining else None,
                "fans_joining": joining, "anomaly": int(bool(active)),
                "anomaly_kind": active[0].kind if active else "",
                "anomaly_onset": round(active[0].start, 3) if active else None,
                "day": day_label, "regime": sim.day.regime,
            })
    rows.sort(key=lambda r: (r["ts"], int(r["gateId"][1:])))
    return rows


def reading_only(row: dict) -> dict:
    """What a turnstile system posts: no truth columns."""
    return {k: row[k] for k in ("stadiumId", "gateId", "ts", "perMinuteCount", "avgProcessingTime", "queueLength",
                                "openLanes")}


def replay(rows: list[dict], base_url: str, speed: float = 1.0, at: int = 120) -> Iterator[dict]:
    """Post a match day to a running service as if it were live now.

    Every reading is re-stamped so that simulated minute `at` is the current minute: minutes up to
    `at` are posted at once (the board has its history), later ones one simulated minute per
    60/speed seconds. At speed 1 no reading is ever ahead of the clock; faster, they run ahead of it
    (the service accepts up to FLOW_MAX_FUTURE_SECONDS)."""
    import requests

    by_ts: dict[str, list[dict]] = {}
    for row in rows:
        by_ts.setdefault(row["ts"], []).append(reading_only(row))
    minutes = sorted(by_ts)
    at = max(1, min(at, len(minutes)))
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    shift = now - datetime.fromisoformat(minutes[at - 1].replace("Z", "+00:00"))
    url = base_url.rstrip("/") + "/api/flow/ingest"
    session = requests.Session()
    session.headers.update(client_headers("flow"))

    def post(ts: str) -> dict:
        stamp = (datetime.fromisoformat(ts.replace("Z", "+00:00")) + shift).isoformat().replace("+00:00", "Z")
        resp = session.post(url, json={"readings": [{**r, "ts": stamp} for r in by_ts[ts]]}, timeout=10)
        if resp.status_code != 202:
            raise RuntimeError(f"{url} answered {resp.status_code}: {resp.text[:300]}")
        return {"minute": minutes.index(ts) + 1, "ts": stamp, **resp.json()}

    for ts in minutes[:at]:
        step = post(ts)
    yield step
    started = time.monotonic()
    for i, ts in enumerate(minutes[at:], start=1):
        due = started + i * 60.0 / speed
        if due > time.monotonic():
            time.sleep(due - time.monotonic())
        yield post(ts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stadium", default="RABAT", help="stadium id (see stadiums.json)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--regime", default=DEFAULT_REGIME, choices=REGIMES, metavar="ARRIVALS/SERVICE/STAFFING",
                        help=f"default {DEFAULT_REGIME}; arrivals {', '.join(ARRIVALS)}; service "
                             f"{', '.join(SERVICES)}; staffing {', '.join(STAFFING)}")
    parser.add_argument("--gates", default="", help="comma-separated gate ids (default: all)")
    parser.add_argument("--no-anomalies", action="store_true", help="normal traffic only")
    parser.add_argument("--start", default=None,
                        help="ISO time the gates open (default: now, rounded down to the minute, in UTC)")
    parser.add_argument("--out", default="-", help="CSV file (default: stdout); ignored with --replay")
    parser.add_argument("--replay", default=None, help="base URL of a running service, e.g. http://127.0.0.1:8080")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="replay speed after --at (1: real time; faster runs ahead of the clock)")
    parser.add_argument("--at", type=int, default=120,
                        help="simulated minute that is now (default 120: half an hour before kickoff)")
    args = parser.parse_args(argv)
    stadiums = load_stadiums()
    if args.stadium not in stadiums:
        parser.error(f"unknown stadium {args.stadium}; known: {', '.join(stadiums)}")
    start = (datetime.fromisoformat(args.start.replace("Z", "+00:00")) if args.start
             else datetime.now(timezone.utc).replace(second=0, microsecond=0))
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    gates = [g for g in args.gates.split(",") if g]
    rows = simulate_day(stadiums[args.stadium], args.seed, start.astimezone(timezone.utc), gates or None,
                        not args.no_anomalies, regime=args.regime)
    if args.replay:
        print(f"replaying {args.stadium} ({args.regime}) into {args.replay}/api/flow/ingest: minutes 1..{args.at} "
              f"of {DAY_MINUTES} now (the newest stamped with the current minute), then {args.speed:g}x real time",
              file=sys.stderr, flush=True)
        for step in replay(rows, args.replay, args.speed, args.at):
            print(json.dumps(step), flush=True)
        return
    handle = sys.stdout if args.out == "-" else open(args.out, "w", newline="")
    writer = csv.DictWriter(handle, fieldnames=FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    if handle is not sys.stdout:
        handle.close()
        print(f"wrote {len(rows)} readings to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
