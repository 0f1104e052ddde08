"""The one feature function for the wait and anomaly models, used by training and serving.

A gate's window is its most recent readings, oldest first, newest (the one to predict from)
last; each reading is a `Reading` (ts in epoch milliseconds, per-minute count, average
processing time in seconds, queue length, open lanes). Training builds windows from the
simulator's readings with `windows_from_series`; serving gets them from the state store.
Numpy only: serving imports nothing from training.
"""
from __future__ import annotations

from itertools import chain
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
    """The features of one window, written for one window (the definition; feature_matrix computes the
    same values for many windows at once)."""
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
    """float32 rows of FEATURE_NAMES, one per window: exactly `gate_features` of each (the per-window
    definition above; tests/flow/test_features.py checks every value bit for bit), computed for all
    windows of one length at once. /status asks for every gate of a stadium together, and numpy's
    per-call cost (several microseconds with cold caches) made 12 gates cost ~1 ms one by one."""
    windows = [list(w)[-WINDOW:] for w in windows]
    if any(not w for w in windows):
        raise ValueError("a window needs at least one reading")
    out = np.empty((len(windows), len(FEATURE_NAMES)), dtype=np.float32)
    by_length: dict[int, list[int]] = {}
    for i, w in enumerate(windows):
        by_length.setdefault(len(w), []).append(i)
    for length, rows in by_length.items():
        flat = chain.from_iterable(chain.from_iterable(windows[i] for i in rows))  # np.array on nested tuples: 2.5x slower
        readings = np.fromiter(flat, dtype=np.float64, count=len(rows) * length * len(Reading._fields))
        out[rows] = _same_length_features(readings.reshape(len(rows), length, len(Reading._fields)))
    return out


def _same_length_features(readings: np.ndarray) -> np.ndarray:
    """gate_features for windows of one length L: `readings` is (windows, L, 5) as Reading's fields.

    The same operations in the same order, over arrays: sums and means reduce rows of contiguous arrays
    (numpy's pairwise summation, as on one window's array), and the two dot products go through matmul
    on stacked vectors, which calls the same BLAS dot as np.dot. Python's max(x, c) is np.maximum here.
    """
    n, length, _ = readings.shape
    ts, counts, procs, queues, lanes_open = np.ascontiguousarray(readings.transpose(2, 0, 1))
    cur_count, cur_proc, cur_queue, cur_lanes = counts[:, -1], procs[:, -1], queues[:, -1], lanes_open[:, -1]
    lanes = np.maximum(cur_lanes, 1.0)
    total = counts.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        proc_smooth = np.where(total > 0, (counts * procs).sum(axis=1) / total, cur_proc)
    mean_count = counts.mean(axis=1)
    capacity = lanes * 60.0 / np.maximum(proc_smooth, 0.5)
    if length > 1:
        prev_queue, prev_lanes = queues[:, -2], lanes_open[:, -2]
        queue_delta = cur_queue - prev_queue
        gap = (ts[:, -1] - ts[:, -2]) / 60000.0
        prev_counts, prev_procs = np.ascontiguousarray(counts[:, :-1]), np.ascontiguousarray(procs[:, :-1])
    else:
        prev_queue, prev_lanes = cur_queue, cur_lanes
        queue_delta = np.zeros(n)
        gap = np.ones(n)
        prev_counts, prev_procs = counts, procs
    queue_slope, queue_fit = queue_delta, cur_queue
    if length > 2:
        recent = queues[:, -5:]
        t = ((ts - ts[:, :1]) / 60000.0)[:, -5:]
        moving = (t.max(axis=1) - t.min(axis=1)) > 0
        tc = t - t.mean(axis=1, keepdims=True)
        centred = recent - recent.mean(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = (tc[:, None, :] @ centred[:, :, None])[:, 0, 0] / (tc[:, None, :] @ tc[:, :, None])[:, 0, 0]
            fit = np.maximum(recent.mean(axis=1) + slope * tc[:, -1], 0.0)
        queue_slope, queue_fit = np.where(moving, slope, queue_slope), np.where(moving, fit, queue_fit)
    arrivals = np.maximum(cur_count + queue_delta, 0.0)
    if length > 2:
        prev_arrivals = np.maximum(counts[:, 1:-1] + queues[:, 1:-1] - queues[:, :-2], 0.0)
        arrivals_mean_prev = prev_arrivals.mean(axis=1)
        arrivals_sd_prev = prev_arrivals.std(axis=1) if length > 3 else np.zeros(n)
    else:
        arrivals_mean_prev, arrivals_sd_prev = arrivals, np.zeros(n)
    max_lanes = np.maximum(lanes_open.max(axis=1), 1.0)
    columns = [
        cur_queue, cur_proc, cur_lanes, cur_count,
        cur_queue * cur_proc / lanes / 60.0,
        cur_queue * proc_smooth / lanes / 60.0,
        queue_fit * proc_smooth / lanes / 60.0,
        queue_fit,
        cur_queue / np.maximum(mean_count, 1.0),
        capacity,
        queue_delta,
        queue_slope,
        arrivals,
        arrivals_mean_prev,
        (arrivals + 5.0) / (arrivals_mean_prev + 5.0),
        (arrivals - arrivals_mean_prev) / (arrivals_sd_prev + 0.02 * cur_queue + 5.0),
        (cur_count + 5.0) / (prev_counts.mean(axis=1) + 5.0),
        (cur_proc + 0.5) / (prev_procs.mean(axis=1) + 0.5),
        cur_lanes / max_lanes,
        cur_lanes - prev_lanes,
        cur_count / capacity,
        queue_delta / (prev_queue + 10.0),
        gap,
        np.full(n, float(length)),
    ]
    return np.stack(columns, axis=1).astype(np.float32)


def windows_from_series(readings: Sequence[Reading]) -> list[list[Reading]]:
    """For a gate's readings in time order, the window that ends at each reading."""
    return [list(readings[max(0, i - WINDOW + 1): i + 1]) for i in range(len(readings))]
