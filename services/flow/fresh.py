"""Flow on match days the model never saw: `python -m services.common.report --fresh flow FILE`.

FILE is a CSV of gate readings in the simulator's schema (`python -m services.flow.simulate
--out`): stadiumId, gateId, ts, perMinuteCount, avgProcessingTime, queueLength, openLanes and the
truth column true_wait (anomaly and anomaly_onset too, if the detector is to be scored). Only days
after the model's data_end are scored. The data are simulated, so "later rows" are the match days
the training plan would have simulated next: training runs day k of the plan on START + k days
(services/flow/train.py), `train --until DATE` keeps the days up to DATE, and

    python -m services.flow.fresh --manifest DIR/manifest.json --out later.csv [--days 18]

writes the plan's next days (the same seed, every regime, the arrival shapes of all roles) in the
simulator's schema. Any other simulated or real file with those columns and later dates works too:
stadiumId and gateId only group the readings into gate series, so they need not be this project's.

Each gate-day's readings go through the served artifact exactly as serving reads a gate: the
windows of its in-order readings, FlowModel.predict (the ONNX wait model, or the served baseline
column). Baselines (parameter-free, nothing to fit): Little's law with the observed rate (queue /
fans through per minute over the window) and queue x processing time / open lanes. Metric: wait
MAE in minutes; the bootstrap resamples whole match days. With anomaly columns, the served
detector at its frozen threshold is scored per event as in training (recall within 3 minutes,
false alarms per gate-hour).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from services.common import evaluation as ev
from services.common.fresh import FreshDataError, FreshTable, data_end

from . import evaluate as events
from .features import FEATURE_NAMES, Reading, feature_matrix, windows_from_series
from .model import FlowModel

REQUIRED = ["stadiumId", "gateId", "ts", "perMinuteCount", "avgProcessingTime", "queueLength", "openLanes",
            "true_wait"]
NUMERIC = ["perMinuteCount", "avgProcessingTime", "queueLength", "openLanes"]
BASELINES = {"littles_law_observed_rate": "throughput_wait", "queue_x_processing_over_lanes": "little_wait_smooth"}


def read(path: Path) -> pd.DataFrame:
    """The file's readings, checked column by column (a FreshDataError names the first bad field)."""
    try:
        frame = pd.read_csv(path, dtype={"stadiumId": str, "gateId": str, "ts": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise FreshDataError(f"{path}: not a readable CSV of gate readings ({exc})") from None
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise FreshDataError(f"{path}: missing column(s) {missing}; expected the simulator's schema "
                             f"({', '.join(REQUIRED)}, optionally anomaly, anomaly_onset)")
    if frame.empty:
        raise FreshDataError(f"{path}: no readings")
    ts = pd.to_datetime(frame["ts"], utc=True, errors="coerce")
    if ts.isna().any():
        i = int(np.flatnonzero(ts.isna().to_numpy())[0])
        raise FreshDataError(f"{path}: ts on data row {i + 1} is not an ISO 8601 time with a timezone: "
                             f"{frame['ts'].iloc[i]!r}")
    frame["ts"] = ts
    for column in [*NUMERIC, "true_wait"]:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = (values.isna() & (column != "true_wait")) | (values < 0)
        bad |= frame[column].notna() & values.isna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise FreshDataError(f"{path}: {column} on data row {i + 1} must be a number >= 0, got "
                                 f"{frame[column].iloc[i]!r}")
        frame[column] = values
    for column in ("stadiumId", "gateId"):   # group keys only: another simulator's own ids are fine
        if frame[column].isna().any():
            i = int(np.flatnonzero(frame[column].isna().to_numpy())[0])
            raise FreshDataError(f"{path}: {column} on data row {i + 1} is empty")
    return frame


def evaluate(model_dir: Path, manifest: dict[str, Any], path: Path) -> FreshTable:
    served = FlowModel(model_dir, manifest)            # the artifact as serving loads it
    end = data_end(manifest)
    frame = read(path)
    frame["date"] = frame["ts"].dt.strftime("%Y-%m-%d")
    later = frame[frame["date"] > end]
    if later.empty:
        raise FreshDataError(f"no readings after the model's data end {end} in {path} (its last day is "
                             f"{frame['date'].max()}); write later days with python -m services.flow.fresh")
    parts, anomaly_parts = [], []
    for (date, stadium, gate), g in later.groupby(["date", "stadiumId", "gateId"], sort=True):
        g = g.sort_values("ts").drop_duplicates("ts")
        series = [Reading(int(t.value // 1_000_000), int(c), float(p), int(q), int(n)) for t, c, p, q, n in
                  zip(g["ts"], g["perMinuteCount"], g["avgProcessingTime"], g["queueLength"], g["openLanes"])]
        windows = windows_from_series(series)
        predictions = served.predict(windows)
        x = feature_matrix(windows)
        truth = g["true_wait"].to_numpy(float)
        keep = ~np.isnan(truth)
        base = {"day": date, "gate_day": f"{date}/{stadium}/{gate}", "regime": g["regime"].to_numpy()[keep]
                if "regime" in g else "", "actual": truth[keep]}
        columns = {served.wait_name: np.array([p.wait for p in predictions])}
        columns.update({name: np.maximum(x[:, FEATURE_NAMES.index(col)].astype(float), 0.0)
                        for name, col in BASELINES.items() if name != served.wait_name})
        for name, values in columns.items():
            parts.append(pd.DataFrame({**base, "model": name, "prediction": values[keep]}))
        if {"anomaly", "anomaly_onset"} <= set(g.columns):
            flags = np.array([p.anomaly for p in predictions])
            anomaly_parts.append((date, events.score_gate(flags, pd.to_numeric(g["anomaly_onset"]).to_numpy(float),
                                                          g["anomaly"].to_numpy(int))))
    table = pd.concat(parts, ignore_index=True)
    if table.empty or not (table["model"] == served.wait_name).any():
        raise FreshDataError(f"{path}: no reading after {end} has a true_wait to score")
    table["row"] = table.groupby("model").cumcount()
    extra = {}
    if anomaly_parts:
        by_date: dict[str, list[dict]] = {}
        for date, part in anomaly_parts:
            by_date.setdefault(date, []).append(part)
        extra["anomaly"] = anomaly_result(served, events.pool(events.by_day(list(by_date.values()))))
    days = sorted(table["day"].unique())
    description = (f"flow: {len(days)} later match days {days[0]} .. {days[-1]} (after data end {end}), every "
                   f"gate's readings through the served model ({served.wait_name}, detector {served.method}) as "
                   "serving reads a gate; wait MAE in minutes, blocks = match days")
    baselines = [b for b in BASELINES if b != served.wait_name]
    if len(baselines) < 1:
        raise FreshDataError("no baseline to compare with")
    return FreshTable(table=table, metric="mae", metrics={"mae": ev.mae, "rmse": ev.rmse}, served=served.wait_name,
                      baselines=baselines, description=description, block="day", extra=extra)


def anomaly_result(served: FlowModel, pooled: dict) -> dict:
    """The served detector at its frozen threshold on the file's labelled events (a file with none, such
    as the second queue engine's, says so rather than printing a recall of nothing)."""
    hours = f"over {pooled['gate_hours']} gate-hours"
    false_alarms = ev.precise(pooled["false_alarms_per_gate_hour"], near=0.5)
    if pooled["events"] == 0:
        statement = (f"no labelled events in the file; {served.method} raised {false_alarms} false alarms "
                     f"per gate-hour (target <= 0.5) {hours}")
    else:
        statement = (f"{served.method} at its threshold: recall within 3 min "
                     f"{ev.precise(pooled['recall_3min'], near=0.9)} of {pooled['events']} events (target >= 0.9; "
                     f"flagged at any time {ev.precise(pooled['recall_any'])}), {false_alarms} false alarms per "
                     f"gate-hour (target <= 0.5) {hours}")
    return {"detector": served.method, "threshold": served.threshold, **pooled, "statement": statement}


def write_later_days(manifest: dict[str, Any], out: Path, n_days: int) -> int:
    """The training plan's next `n_days` days (same seed) in the simulator's CSV schema."""
    from .simulate import FIELDS
    from .train import simulate_days

    training = manifest.get("training") or {}
    if "days" not in training or "seed" not in training:
        raise FreshDataError("the manifest has no training days/seed (not a flow manifest?)")
    days = simulate_days(n_days, int(training["seed"]), True, first=int(training["days"]), keep_rows=True)
    rows = [r for d in days for r in d["rows"]]
    with open(out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write the flow training plan's next simulated days (a fresh file)")
    parser.add_argument("--manifest", type=Path, required=True, help="a flow manifest.json (its seed and days)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--days", type=int, default=18, help="days after training's last one (default 18: every regime)")
    args = parser.parse_args(argv)
    n = write_later_days(json.loads(args.manifest.read_text()), args.out, args.days)
    print(f"wrote {n} readings of {args.days} days to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
