"""SimPy gate simulator: a match day's turnstile readings, with every fan's true wait.

    python -m services.flow.simulate --stadium RABAT --seed 7 [--gates G1,G2] [--anomalies] --out day.csv
    python -m services.flow.simulate --stadium RABAT --replay http://127.0.0.1:8080 --speed 60

Model of a gate: fans arrive in small groups along a pre-kickoff curve (log-normal minutes
before kickoff, peak about half an hour before, the shape door counts show: a slow start and a
late rush), join one FIFO queue and are served by the open lanes with log-normal service
times plus a few slow fans (ticket or bag problems). A lane is also busy for a step-up time
before each scan (bag check, finding the ticket; exponential, gate mean 1.5-5 s) that the
turnstile does not see: avgProcessingTime is scan-to-rotation only, as a turnstile measures it. Stewards open about 60% of the lanes
when the gates open and all of them 120 minutes before kickoff.

Injected, labelled anomalies (per gate and minute):
- surge: a bus or tram load (300-900 extra fans) within 3-8 minutes;
- lane_closure: half the lanes close for 8-20 minutes (scanner fault, staff pulled away);
- stampede: a crowd rush (1200-2500 fans in 3-5 minutes) while stewards wave fans through
  (service collapses to about a second).

Each gate emits one reading per minute: stadiumId, gateId, ts, perMinuteCount (fans through
in the minute), avgProcessingTime (mean seconds of those fans, or the previous value when
nobody passed), queueLength (camera count at the end of the minute, 5% noise) and openLanes.
The truth per reading is the mean wait (minutes from joining the queue to reaching a lane) of
the fans who join in the minute after the reading: the wait the status board should show.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterator

import numpy as np
import simpy

from .stadiums import Stadium, load_stadiums

OPEN_BEFORE = 150          # gates open 150 minutes before kickoff
AFTER_KICKOFF = 20         # and readings continue 20 minutes after it
DAY_MINUTES = OPEN_BEFORE + AFTER_KICKOFF
ANOMALY_KINDS = ("surge", "lane_closure", "stampede")
FIELDS = ["stadiumId", "gateId", "ts", "perMinuteCount", "avgProcessingTime", "queueLength", "openLanes",
          "true_wait", "fans_joining", "anomaly", "anomaly_kind", "day"]


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
    service_mean_s: float
    step_up_s: float = 0.0
    anomalies: list[Anomaly] = field(default_factory=list)


def plan_day(stadium: Stadium, rng: np.random.Generator, gates: list[str] | None = None,
             anomalies: bool = True, anomaly_rate: float = 1.0) -> list[GateDay]:
    """Draw a match day: attendance, each gate's share and service speed, injected anomalies."""
    fill = rng.uniform(0.55, 1.0)
    weights = rng.dirichlet(np.full(len(stadium.gates), 12.0))
    plan = []
    for gate, share in zip(stadium.gates, weights):
        if gates and gate.id not in gates:
            continue
        day = GateDay(gate.id, gate.lanes, int(stadium.capacity * fill * share), rng.uniform(5.0, 8.0),
                      rng.uniform(1.5, 5.0))
        if anomalies:
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

    def service_seconds(self, now: float) -> float:
        if any(lo <= now < hi for lo, hi in self.waved):
            return self.rng.uniform(0.5, 1.5)
        service = self.rng.lognormal(math.log(self.day.service_mean_s) - 0.08, 0.4)
        if self.rng.random() < 0.03:
            service += self.rng.uniform(20, 60)
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
            # the lane is busy for the step-up (bag check, finding the ticket) plus the turnstile's own
            # processing; the turnstile only measures the latter, so avgProcessingTime understates the cycle
            step_up = 0.0 if self.waved and any(lo <= now < hi for lo, hi in self.waved) else \
                self.rng.exponential(self.day.step_up_s)
            done = self.env.timeout((service + step_up) / 60.0, value=service)
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
        pending = min(self.to_close, lanes)
        self.to_close -= pending
        reopened = lanes - pending
        self.closed -= reopened
        self.free += reopened
        self.dispatch()

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
    before = rng.lognormal(math.log(38), 0.65, size=groups)
    times = OPEN_BEFORE - np.clip(before, -AFTER_KICKOFF, OPEN_BEFORE - 0.01)
    sizes = rng.choice([1, 2, 3, 4, 5], size=groups, p=[0.3, 0.3, 0.2, 0.12, 0.08])
    parts = [np.repeat(times, sizes)]
    for a in day.anomalies:
        if a.kind in ("surge", "stampede"):
            parts.append(rng.uniform(a.start, a.start + a.duration, size=a.size))
    return np.sort(np.concatenate(parts))


def simulate_day(stadium: Stadium, seed: int, start: datetime, gates: list[str] | None = None,
                 anomalies: bool = True, day_label: int | str = 0) -> list[dict]:
    """Run one match day; rows in time order (minute, then gate), with truth columns."""
    rng = np.random.default_rng(seed)
    plan = plan_day(stadium, rng, gates, anomalies)
    env = simpy.Environment()
    sims = []
    for day in plan:
        sim = GateSim(env, day, rng)
        early = day.lanes - max(1, math.ceil(day.lanes * 0.6))
        if early:
            env.process(sim.close_lanes(0.0, early, 30.0))
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
            n = int(sim.done_count[m])
            if n:
                last_proc = sim.done_service[m] / n
            label = [a.kind for a in sim.day.anomalies if a.start < m and m - 1 < a.start + a.duration]
            joining = int(sim.wait_n[m]) if m < DAY_MINUTES else 0
            true_q = sim.queue_at[m]
            seen_q = int(max(0, round(true_q * rng.normal(1.0, 0.05))))
            rows.append({
                "stadiumId": stadium.id, "gateId": sim.day.gate_id,
                "ts": (start + timedelta(minutes=m)).isoformat().replace("+00:00", "Z"),
                "perMinuteCount": n, "avgProcessingTime": round(last_proc, 2), "queueLength": seen_q,
                "openLanes": int(sim.lanes_at[m]),
                "true_wait": round(sim.wait_sum[m] / joining, 4) if joining else None,
                "fans_joining": joining, "anomaly": int(bool(label)), "anomaly_kind": label[0] if label else "",
                "day": day_label,
            })
    rows.sort(key=lambda r: (r["ts"], int(r["gateId"][1:])))
    return rows


def reading_only(row: dict) -> dict:
    """What a turnstile system posts: no truth columns."""
    return {k: row[k] for k in ("stadiumId", "gateId", "ts", "perMinuteCount", "avgProcessingTime", "queueLength",
                                "openLanes")}


def replay(rows: list[dict], base_url: str, speed: float, batch_per_minute: bool = True) -> Iterator[dict]:
    """Post a match day to a running service, one minute of readings per 60/speed seconds."""
    import requests

    by_ts: dict[str, list[dict]] = {}
    for row in rows:
        by_ts.setdefault(row["ts"], []).append(reading_only(row))
    url = base_url.rstrip("/") + "/api/flow/ingest"
    session = requests.Session()
    started = time.monotonic()
    for i, (ts, readings) in enumerate(sorted(by_ts.items())):
        due = started + i * 60.0 / speed
        if due > time.monotonic():
            time.sleep(due - time.monotonic())
        resp = session.post(url, json={"readings": readings}, timeout=10)
        if resp.status_code != 202:
            raise RuntimeError(f"{url} answered {resp.status_code}: {resp.text[:300]}")
        yield {"ts": ts, **resp.json()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stadium", default="RABAT", help="stadium id (see stadiums.json)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--gates", default="", help="comma-separated gate ids (default: all)")
    parser.add_argument("--no-anomalies", action="store_true", help="normal traffic only")
    parser.add_argument("--start", default=None,
                        help="ISO time the gates open (default: now, rounded down to the minute, in UTC)")
    parser.add_argument("--out", default="-", help="CSV file (default: stdout); ignored with --replay")
    parser.add_argument("--replay", default=None, help="base URL of a running service, e.g. http://127.0.0.1:8080")
    parser.add_argument("--speed", type=float, default=60.0, help="replay speed factor (60: a minute per second)")
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
                        not args.no_anomalies)
    if args.replay:
        for step in replay(rows, args.replay, args.speed):
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
