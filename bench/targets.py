"""What the harness sends to each service: its main prediction endpoint(s) and batch endpoints.

A service listed in services/registry.json but not here is still measured (no-op, cold start,
memory, imports); its prediction endpoints show as "no request defined".
"""
from __future__ import annotations

import json
import os
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable

from .load import BENCH_WRITE_KEY


@dataclass
class Endpoint:
    label: str
    method: str
    path: str  # under /api/<service>
    body: dict | None = None
    batch_rows: int = 1  # model rows evaluated per request
    main: bool = True


@dataclass
class Target:
    endpoints: Callable[[str], list[Endpoint]]  # base URL -> endpoints (may prepare state first)
    rf_model: bool = False  # the issue's >= 15x seeds' style target applies
    batch_note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def _post(url: str, body: Any) -> Any:
    """A write the bench makes to prepare state: with FLOW_API_KEY when set (a service started with its
    own keys, e.g. the image tier's), else the bench's key."""
    key = os.environ.get("FLOW_API_KEY") or BENCH_WRITE_KEY
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


FLOW_STATUS_STADIUM = "RABAT"    # 12 gates: /status predicts all of them in one batch
FLOW_INGEST_STADIUM = "TANGIER"  # the ingest bench writes here, so /status windows stay as prepared


def _flow(base: str) -> list[Endpoint]:
    """Ten recent minutes of readings for every gate of the status stadium, then GET /status."""
    stadiums = {s["id"]: s for s in _get(f"{base}/api/flow/stadiums")["stadiums"]}
    gates = [g["id"] if isinstance(g, dict) else g for g in stadiums[FLOW_STATUS_STADIUM]["gates"]]
    now = int(time.time()) // 60 * 60
    readings = [{"stadiumId": FLOW_STATUS_STADIUM, "gateId": gate,
                 "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60 * k)),
                 "perMinuteCount": 30 + 3 * i + k, "avgProcessingTime": 3.0 + 0.1 * k, "queueLength": 20 + 5 * i}
                for i, gate in enumerate(gates) for k in range(10)]
    _post(f"{base}/api/flow/ingest", {"readings": readings})
    return [Endpoint(f"GET /status ({len(gates)} gates)", "GET", f"/status?stadiumId={FLOW_STATUS_STADIUM}",
                     batch_rows=len(gates))]


def flow_ingest_gates(base: str) -> list[str]:
    stadiums = {s["id"]: s for s in _get(f"{base}/api/flow/stadiums")["stadiums"]}
    return [g["id"] if isinstance(g, dict) else g for g in stadiums[FLOW_INGEST_STADIUM]["gates"]]


def _sales(base: str) -> list[Endpoint]:
    predict = {"Store": 1, "Date": "10-08-2012", "Holiday_Flag": 0, "Temperature": 85.05, "Fuel_Price": 3.494,
               "CPI": 221.96, "Unemployment": 6.908}
    return [Endpoint("POST /predict", "POST", "/predict", predict),
            Endpoint("POST /forecast (13 weeks)", "POST", "/forecast", {"store_id": 1, "steps": 13},
                     batch_rows=13, main=False)]


def _forecast(base: str) -> list[Endpoint]:
    return [Endpoint("POST /predict", "POST", "/predict",
                     {"team_a": "Morocco", "team_b": "France", "stadium": "Grand Stade de Marrakech",
                      "time": "Night", "stage": "Semi-Final"})]


def _demand(base: str) -> list[Endpoint]:
    catalog = _get(f"{base}/api/demand/catalog")
    store = catalog["stores"][0]["store_id"]
    product = catalog["products"][0]
    price = product.get("usual_price", 5.0)
    target = {"date": "2011-06-01", "store_id": store, "product_id": product["product_id"]}
    return [Endpoint("POST /predict", "POST", "/predict", {**target, "price": price}),
            Endpoint("POST /price-curve (201 prices x 2)", "POST", "/price-curve", {**target, "steps": 201},
                     batch_rows=402, main=False)]


def _powerball(base: str) -> list[Endpoint]:
    return [Endpoint("POST /predict", "POST", "/predict", {"count": 1}),
            Endpoint("POST /predict (count 10)", "POST", "/predict", {"count": 10}, batch_rows=10, main=False)]


TARGETS: dict[str, Target] = {
    "flow": Target(_flow, batch_note="/status predicts every gate of a stadium in one ONNX call; /ingest takes "
                                     "1..500 readings per request (see flow ingest)"),
    "sales": Target(_sales, rf_model=True,
                    batch_note="/forecast returns up to 13 weeks (precomputed at load); /predict takes one row"),
    "forecast": Target(_forecast, rf_model=True, batch_note="/predict takes one match"),
    "demand": Target(_demand, batch_note="/price-curve evaluates up to 201 prices x 2 promotion settings "
                                         "(402 rows) in one ONNX call"),
    "powerball": Target(_powerball, batch_note="/predict samples up to `count` tickets from probabilities "
                                               "computed at load (no model call per request)"),
}
