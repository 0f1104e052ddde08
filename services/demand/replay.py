"""The latest weeks of the dunnhumby data as /predict requests and actuals, for the monitoring demo
(`make demo-monitoring`). These rows are in the data the model was trained on: the panel they fill
shows the machinery working, not live performance (each actual says in_training: true)."""
from __future__ import annotations

from typing import Iterator


def rows(weeks: int) -> Iterator[tuple[dict, dict]]:
    from .pipeline import DATA
    from .validation import validate_file

    frame, _ = validate_file(DATA)
    latest = sorted(frame["week_end_date"].unique())[-weeks:]
    for r in frame[frame["week_end_date"].isin(latest)].sort_values(["week_end_date", "store_id"]).itertuples():
        request = {"date": str(r.week_end_date), "store_id": str(r.store_id), "product_id": str(r.product_id),
                   "price": float(r.price), "base_price": float(r.base_price), "display": int(r.display),
                   "feature": int(r.feature), "tpr": int(r.tpr)}
        yield request, request | {"units": float(r.units)}
