"""Sales on weeks the model never saw: `python -m services.common.report --fresh sales FILE`.

FILE has the columns of the shipped Walmart CSV (Store, Date, Weekly_Sales, Holiday_Flag, ...). The
weeks after the model's data end, up to the 13 /forecast serves, are scored: the served forecast
and its 90% interval come from the artifact loaded as serving loads it (`SalesModel`), the
baselines (seasonal naive, level-adjusted seasonal naive, last value) are fitted on the history
the artifact holds. WMAE with holiday weeks x5, as in training; the bootstrap resamples whole target
weeks (every store's row of a week shares the week's shocks); coverage per horizon band, horizon,
holiday week and store. Rows past the 13th week are counted and left out: the served forecast is
made once, from the data end.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from services.common import evaluation as ev
from services.common.fresh import FreshDataError, FreshTable, data_end, finite

from .features import band_of
from .model import SalesModel


def _history(served: SalesModel) -> pd.DataFrame:
    """The weeks the artifact was trained on, in the baselines' long shape."""
    parts = [pd.DataFrame({"store": store, "ds": pd.to_datetime(served.dates), "y": served.stores[store].sales})
             for store in served.store_ids]
    return pd.concat(parts, ignore_index=True)


def _load(path: Path) -> pd.DataFrame:
    from .train import COLUMNS, load_data

    try:
        return load_data(path)
    except (KeyError, ValueError) as exc:
        raise FreshDataError(f"{path}: not in the training data's schema {COLUMNS} ({exc})") from None


def evaluate(model_dir: Path, manifest: dict[str, Any], path: Path) -> FreshTable:
    from .train import HOLIDAY_WEIGHT, METRIC, baselines

    served = SalesModel(model_dir, manifest)
    end = pd.Timestamp(data_end(manifest))
    frame = _load(path)
    later = frame[frame["Date"] > end]
    if later.empty:
        raise FreshDataError(f"no rows after the model's data end {end.date()} in {path} "
                             f"(the file ends {frame['Date'].max().date()}); train with --until to leave some")
    horizon_of = {pd.Timestamp(w): h for h, w in enumerate(served.future_weeks[:served.horizon], start=1)}
    known = later["Store"].isin(served.store_ids)
    in_horizon = later["Date"].isin(list(horizon_of))
    unknown, beyond = int((~known).sum()), int((known & ~in_horizon).sum())
    rows = later[known & in_horizon].sort_values(["Date", "Store"]).reset_index(drop=True)
    if rows.empty:
        raise FreshDataError(f"none of the {len(later)} rows after {end.date()} falls in the {served.horizon} weeks "
                             f"the served forecast covers ({served.future_weeks[0]} .. "
                             f"{served.future_weeks[served.horizon - 1]}) for a store the model knows")

    horizon = rows["Date"].map(horizon_of).to_numpy(int)
    store = rows["Store"].to_numpy(int)
    mean, lower, upper = (np.array([getattr(served.stores[s], part)[h - 1] for s, h in zip(store, horizon)])
                          for part in ("forecast_mean", "forecast_lower", "forecast_upper"))
    common = pd.DataFrame({"row": np.arange(len(rows)), "week": rows["Date"].dt.strftime("%Y-%m-%d"),
                           "store": store, "horizon": horizon, "band": [band_of(h) for h in horizon],
                           "holiday_week": np.where(rows["Holiday_Flag"] == 1, "holiday", "other"),
                           "weight": np.where(rows["Holiday_Flag"] == 1, float(HOLIDAY_WEIGHT), 1.0),
                           "actual": rows["Weekly_Sales"].to_numpy(float)})
    name = f"{served.forecast_model} (/forecast)"
    parts = [common.assign(model=name, prediction=finite(mean, name), lower=lower, upper=upper)]
    history = _history(served)
    future = pd.DataFrame({"store": store, "ds": rows["Date"]})
    names = []
    for baseline in baselines():
        parts.append(common.assign(model=baseline.name,
                                   prediction=finite(baseline.fit(history).predict(future), baseline.name)))
        names.append(baseline.name)
    weeks = rows["Date"]
    description = (f"sales: {len(rows)} rows of {weeks.nunique()} later weeks {weeks.min().date()} .. "
                   f"{weeks.max().date()} (after the model's data end {end.date()}; horizons "
                   f"{horizon.min()}..{horizon.max()}), forecast by the served {served.forecast_model} through "
                   f"SalesModel from the data end; baselines fitted on the {len(served.dates)} weeks the artifact "
                   f"holds; WMAE with holiday weeks x{HOLIDAY_WEIGHT}, blocks = weeks"
                   + (f"; {beyond} rows past the {served.horizon} served weeks and {unknown} of unknown stores "
                      "left out" if beyond or unknown else ""))
    return FreshTable(table=pd.concat(parts, ignore_index=True), metric=METRIC, metrics={METRIC: ev.wmae},
                      served=name, baselines=names, description=description, weights="weight", block="week",
                      segments=("band", "horizon", "holiday_week", "store"),
                      extra={"rows_left_out": {"past_the_served_weeks": beyond, "unknown_store": unknown}})
