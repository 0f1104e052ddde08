"""The one feature function for the wait and anomaly models, used by training and serving.

A gate's window is its most recent readings, oldest first, newest (the one to predict from)
last; each reading is a `Reading` (ts in epoch milliseconds, per-minute count, average
processing time in seconds, queue length, open lanes). Training builds windows from the
simulator's readings with `windows_from_series`; serving gets them from the state store.
Numpy only: serving imports nothing from training.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

WINDOW = 10  # readings kept per gate: the newest plus nine before it


class Reading(NamedTuple):
    ts_ms: int
    count: int        # perMinuteCount: fans through the turnstiles in the minute
    proc: float       # avgProcessingTime: seconds per fan at a lane
    queue: int        # queueLength at the end of the minute
    lanes: int        # openLanes at the end of the minute


FEATURES: list[tuple[str, str]] = [
    ("queue", "float"), ("proc_s", "float"), ("lanes", "float"), ("count", "float"),
    ("little_wait", "float"),          # queue x proc / lanes, minutes (the baseline itself)
    ("little_wait_smooth", "float"),   # same with the window's count-weighted processing time
    ("little_wait_fit", "float"),      # same with the queue from a linear fit over the window (sensor noise)
    ("queue_fit", "float"),
    ("throughput_wait", "float"),      # queue / mean fans per minute through the gate in the window
    ("capacity_per_min", "float"),     # lanes x 60 / smoothed processing time
    ("queue_delta", "float"),          # queue change since the previous reading
    ("queue_slope", "float"),          # least-squares queue trend over the window, per minute
    ("arrivals", "float"),             # count + queue_delta: fans who joined in the last minute
    ("arrivals_mean_prev", "float"),
    ("arrival_ratio", "float"),        # arrivals / mean of the previous arrivals (surges)
    ("arrival_z", "float"),            # arrivals above that mean, in the window's own spread (queue-camera noise)
    ("count_ratio", "float"),
    ("proc_ratio", "float"),           # proc / the window's earlier processing time
    ("lanes_ratio", "float"),          # lanes / most lanes open in the window (closures)
    ("lanes_delta", "float"),
    ("utilisation", "float"),          # count / capacity_per_min
    ("queue_growth", "float"),         # queue_delta / (previous queue + 10)
    ("gap_minutes", "float"),          # minutes since the previous reading (missing readings)
    ("history", "float"),              # readings in the window
]
FEATURE_NAMES = [name for name, _ in FEATURES]
# The anomaly model sees scale-free features only, so one model fits every gate size.
ANOMALY_FEATURES = ["arrival_ratio", "arrival_z", "count_ratio", "proc_ratio", "lanes_ratio", "utilisation", "queue_growth",
                    "lanes_delta"]
ANOMALY_INDEX = [FEATURE_NAMES.index(n) for n in ANOMALY_FEATURES]


def little_wait(queue: float, proc_s: float, lanes: float) -> float:
    """Little's law: queue length x processing time / open lanes, in minutes."""
    return queue * proc_s / max(lanes, 1.0) / 60.0


def gate_features(window: Sequence[Reading]) -> list[float]:
    if not window:
        raise ValueError("a window needs at least one reading")
    window = list(window)[-WINDOW:]
    cur = window[-1]
    prev = window[:-1] or [cur]
    counts = np.array([r.count for r in window], dtype=float)
    procs = np.array([r.proc for r in window], dtype=float)
    queues = np.array([r.queue for r in window], dtype=float)
    lanes = max(float(cur.lanes), 1.0)
    proc_smooth = float(np.sum(counts * procs) / counts.sum()) if counts.sum() > 0 else float(cur.proc)
    mean_count = float(counts.mean())
    capacity = lanes * 60.0 / max(proc_smooth, 0.5)
    p = prev[-1]
    queue_delta = float(cur.queue - p.queue) if len(window) > 1 else 0.0
    queue_slope, queue_fit = queue_delta, float(cur.queue)
    if len(window) > 2:
        recent = queues[-5:]
        t = np.array([(r.ts_ms - window[0].ts_ms) / 60000.0 for r in window])[-5:]
        if np.ptp(t) > 0:
            tc = t - t.mean()
            queue_slope = float(np.dot(tc, recent - recent.mean()) / np.dot(tc, tc))
            queue_fit = max(float(recent.mean() + queue_slope * tc[-1]), 0.0)
    arrivals = max(cur.count + queue_delta, 0.0)
    prev_arrivals = [max(b.count + b.queue - a.queue, 0.0) for a, b in zip(window[:-2], window[1:-1])]
    arrivals_mean_prev = float(np.mean(prev_arrivals)) if prev_arrivals else arrivals
    arrivals_sd_prev = float(np.std(prev_arrivals)) if len(prev_arrivals) > 1 else 0.0
    prev_counts = np.array([r.count for r in prev], dtype=float)
    prev_procs = np.array([r.proc for r in prev], dtype=float)
    max_lanes = max(max(r.lanes for r in window), 1)
    gap = (cur.ts_ms - p.ts_ms) / 60000.0 if len(window) > 1 else 1.0
    return [
        float(cur.queue), float(cur.proc), float(cur.lanes), float(cur.count),
        little_wait(cur.queue, cur.proc, cur.lanes),
        little_wait(cur.queue, proc_smooth, cur.lanes),
        little_wait(queue_fit, proc_smooth, cur.lanes),
        queue_fit,
        float(cur.queue) / max(mean_count, 1.0),
        capacity,
        queue_delta,
        queue_slope,
        arrivals,
        arrivals_mean_prev,
        (arrivals + 5.0) / (arrivals_mean_prev + 5.0),
        (arrivals - arrivals_mean_prev) / (arrivals_sd_prev + 0.02 * cur.queue + 5.0),
        (cur.count + 5.0) / (float(prev_counts.mean()) + 5.0),
        (cur.proc + 0.5) / (float(prev_procs.mean()) + 0.5),
        cur.lanes / max_lanes,
        float(cur.lanes - p.lanes),
        cur.count / capacity,
        queue_delta / (p.queue + 10.0),
        gap,
        float(len(window)),
    ]


def feature_matrix(windows: Sequence[Sequence[Reading]]) -> np.ndarray:
    return np.asarray([gate_features(w) for w in windows], dtype=np.float32).reshape(-1, len(FEATURE_NAMES))


def windows_from_series(readings: Sequence[Reading]) -> list[list[Reading]]:
    """For a gate's readings in time order, the window that ends at each reading."""
    return [list(readings[max(0, i - WINDOW + 1): i + 1]) for i in range(len(readings))]
