"""Demand on weeks the model never saw: `python -m services.common.report --fresh demand FILE`.

FILE has the columns of the shipped dunnhumby CSV (BASE_PRICE, PRICE, WEEK_END_DATE, STORE_NUM, UPC,
MANUFACTURER, DISPLAY, FEATURE, TPR_ONLY, UNITS) and passes the same pandera rules as training
(services/demand/validation.py). The rows after the model's data end, of stores and products the
model knows, are predicted by the served artifact through the serving class (`DemandModel`, as
serving loads it) and by the baselines fitted on the rows the model was trained on (the artifact's
history.json holds every one of them). Metric: MAE per store x product x week; the bootstrap resamples
whole weeks (every row of a week shares its shocks); total units against the +-5% target per model.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from services.common.fresh import FreshDataError, FreshTable, data_end, finite

from . import models
from .model import DemandModel
from .validation import DataValidationError, validate_file

TOTAL_TOLERANCE = 5.0


def training_rows(model_dir: Path) -> pd.DataFrame:
    """The rows the served model was trained on, from the artifact's history.json."""
    import json

    spec = json.loads((model_dir / "history.json").read_text())
    columns = spec["columns"]
    parts = []
    for key, weeks in spec["weeks"].items():
        store, product = key.split("|")
        part = pd.DataFrame(weeks, columns=columns)
        parts.append(part.assign(store_id=store, product_id=product))
    frame = pd.concat(parts, ignore_index=True).rename(columns={"week_ending": "week_end_date"})
    frame["week_end_date"] = pd.to_datetime(frame["week_end_date"])
    for column in ("display", "feature", "tpr", "units"):
        frame[column] = frame[column].astype(np.int64)
    return frame.sort_values(["week_end_date", "store_id", "product_id"]).reset_index(drop=True)


def _total(actual: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    bias = float((predicted.sum() - actual.sum()) / actual.sum() * 100) if actual.sum() else float("nan")
    within = bool(abs(bias) <= TOTAL_TOLERANCE)
    return {"actual_units": float(actual.sum()), "predicted_units": float(predicted.sum()), "bias_pct": bias,
            "tolerance_pct": TOTAL_TOLERANCE, "within_tolerance": within}


def evaluate(model_dir: Path, manifest: dict[str, Any], path: Path) -> FreshTable:
    from .pipeline import METRIC, METRICS, served_units

    served = DemandModel(model_dir, manifest)
    end = pd.Timestamp(data_end(manifest))
    try:
        frame, _ = validate_file(path)
    except DataValidationError as exc:
        raise FreshDataError(f"{path}: the file fails the training data's rules:\n{exc.report.text()}") from None
    frame["week_end_date"] = pd.to_datetime(frame["week_end_date"])
    later = frame[frame["week_end_date"] > end]
    if later.empty:
        raise FreshDataError(f"no rows after the model's data end {end.date()} in {path} "
                             f"(the file ends {frame['week_end_date'].max().date()}); train with --until to leave some")
    known = later["store_id"].isin(served.stores) & later["product_id"].isin(served.products)
    dropped = int((~known).sum())
    later = later[known].sort_values(["week_end_date", "store_id", "product_id"]).reset_index(drop=True)
    if later.empty:
        raise FreshDataError(f"none of the {dropped} rows after {end.date()} has a store and product the model knows")

    fitted = training_rows(model_dir)
    hidden = later.drop(columns=["units"])
    predictions = {served.name: finite(served_units(served, later), served.name)}
    baseline_names = []
    for baseline in models.baselines():
        predictions[baseline.name] = finite(baseline.fit(fitted).predict(hidden), baseline.name)
        baseline_names.append(baseline.name)
    actual = later["units"].to_numpy(float)
    parts = [pd.DataFrame({"model": name, "row": np.arange(len(later)), "week_end_date": later["week_end_date"],
                           "store_id": later["store_id"], "product_id": later["product_id"], "actual": actual,
                           "prediction": p}) for name, p in predictions.items()]
    table = pd.concat(parts, ignore_index=True)
    totals = {name: _total(actual, p) for name, p in predictions.items()}
    t = totals[served.name]
    statement = (f"total units on the fresh weeks: predicted {t['predicted_units']:,.0f} vs actual "
                 f"{t['actual_units']:,.0f} ({t['bias_pct']:+.1f}%), "
                 f"{'within' if t['within_tolerance'] else 'OUTSIDE'} +-{TOTAL_TOLERANCE:g}%")
    weeks = later["week_end_date"]
    description = (f"demand: {len(later)} rows of {weeks.nunique()} later weeks {weeks.min().date()} .. "
                   f"{weeks.max().date()} (after the model's data end {end.date()}; {dropped} rows of unknown "
                   f"stores/products left out), predicted by the served {served.name} through DemandModel; "
                   f"baselines fitted on the {len(fitted)} training rows; MAE per row, blocks = weeks")
    return FreshTable(table=table, metric=METRIC, metrics={k: v for k, v in METRICS.items()}, served=served.name,
                      baselines=baseline_names, description=description, block="week_end_date",
                      extra={"total_units": {**totals, "statement": statement}, "rows_unknown_pair": dropped})
