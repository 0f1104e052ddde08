"""Money comes back rounded to cents (it once came back as 1672361.6023660314)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from services.common.store import ModelStore
from services.sales.api import create_app
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def client(sales_artifact, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sales-money")
    store_uri = (tmp / "store").as_uri()
    ModelStore(store_uri, tmp / "cache").publish("sales", sales_artifact)
    app = create_app(make_settings(store_uri, tmp), start_model_refresh=False)
    assert app.extensions["model_holder"].refresh()
    return app.test_client()


def cents(value: float) -> bool:
    return -Decimal(repr(value)).as_tuple().exponent <= 2


def test_every_amount_is_rounded_to_cents(client):
    predict = client.post("/api/sales/predict", json={"Store": 1, "Date": "10-08-2012", "Holiday_Flag": 0,
                                                      "Temperature": 85.0, "Fuel_Price": 3.6, "CPI": 221.5,
                                                      "Unemployment": 6.9}).json
    amounts = [predict["prediction"], *predict["components"].values()]
    forecast = client.post("/api/sales/forecast", json={"store_id": 1, "steps": 8}).json["forecast"]
    amounts += [p[k] for p in forecast for k in ("Sales", "lower", "upper")]
    amounts += [p["Sales"] for p in client.get("/api/sales/history?store_id=1&weeks=8").json["history"]]
    assert len(amounts) == 3 + 24 + 8
    assert all(cents(a) for a in amounts), [a for a in amounts if not cents(a)]
    assert any(not float(a).is_integer() for a in amounts)  # rounded, not truncated to whole dollars
