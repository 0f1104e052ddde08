"""The latest weeks of the Walmart data as /predict requests and actuals, for the monitoring demo
(`make demo-monitoring`). These rows are in the data the model was trained on: the panel they fill
shows the machinery working, not live performance (each actual says in_training: true)."""
from __future__ import annotations

from typing import Iterator


def rows(weeks: int) -> Iterator[tuple[dict, dict]]:
    from .train import DATA, load_data

    frame = load_data(DATA)
    latest = sorted(frame["Date"].unique())[-weeks:]
    for r in frame[frame["Date"].isin(latest)].sort_values(["Date", "Store"]).itertuples():
        request = {"Store": int(r.Store), "Date": r.Date.date().isoformat(), "Holiday_Flag": int(r.Holiday_Flag),
                   "Temperature": float(r.Temperature), "Fuel_Price": float(r.Fuel_Price), "CPI": float(r.CPI),
                   "Unemployment": float(r.Unemployment)}
        yield request, request | {"Weekly_Sales": float(r.Weekly_Sales)}
