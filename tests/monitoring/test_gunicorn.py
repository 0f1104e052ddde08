"""Under a real gunicorn with two workers on 127.0.0.1: drifted inputs and actuals, sent concurrently so
both workers answer, move /monitoring and /metrics as one service (counts aggregate through the store).
Runs against the SQLite store and against DynamoDB (moto: the DynamoDB API, emulated; served one request
at a time, as DynamoDB applies each update atomically, see serial_moto.py)."""
from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import requests

from tests.conftest import ROOT, GunicornServer
from tests.monitoring.conftest import create_table
from tests.monitoring.test_sales import predictable, request_of, rows
from tests.conftest import write_headers


def pids_that_served(prom_dir: Path, endpoint: str) -> set[str]:
    """Worker pids whose own prometheus files count requests to `endpoint`."""
    from prometheus_client.mmap_dict import MmapedDict

    pids = set()
    for path in prom_dir.glob("counter_*.db"):
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):
            metric, name, labels, *_ = json.loads(key)
            if name == "http_requests_total" and labels.get("endpoint") == endpoint and value > 0:
                pids.add(path.stem.split("_")[1])
    return pids


def gauge(text: str, name: str, **labels) -> list[float]:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return [float(m.group(1)) for m in re.finditer(rf"^{name}\{{{re.escape(want)}\}} (\S+)$", text, re.M)]


@pytest.mark.parametrize("backend", ["sqlite", "dynamodb"])
def test_two_workers_one_answer(backend, sales_artifact, request, tmp_path):
    from services.common.store import ModelStore

    store_uri = (tmp_path / "store").as_uri()
    ModelStore(store_uri, tmp_path / "publish").publish("sales", sales_artifact)
    prom = tmp_path / "prometheus"
    env = {"MODEL_STORE_URI": store_uri, "MODEL_CACHE_DIR": str(tmp_path / "cache"), "MODEL_REFRESH_SECONDS": "0",
           "PROMETHEUS_MULTIPROC_DIR": str(prom), "MONITORING_FLUSH_SECONDS": "0.3", "MONITORING_EMF_SECONDS": "1",
           "LOG_LEVEL": "WARNING", "MONITORING_BACKEND": backend, "MONITORING_SQLITE_DIR": str(tmp_path / "mon")}
    if backend == "dynamodb":
        endpoint = request.getfixturevalue("serial_moto")
        env.update(MONITORING_DYNAMODB_TABLE=create_table(endpoint), AWS_ENDPOINT_URL=endpoint)
    data = rows()
    sample = predictable(data).sample(240, replace=True, random_state=1)
    drifted = [request_of(r) | {"Temperature": float(r.Temperature) + 35} for r in sample.itertuples()]
    normal = [request_of(r) for r in sample.itertuples()]
    dates = pd.to_datetime(data["Date"], format="%d-%m-%Y")
    late = data[dates > dates.max() - pd.Timedelta(weeks=20)]                    # 20 weeks x 2 stores
    actuals = [request_of(r) | {"Weekly_Sales": float(r.Weekly_Sales)} for r in late.itertuples()]

    with GunicornServer("services.sales.api:create_app()", env, workers=2) as server:
        server.wait_ready("/api/sales/ready")
        predict = f"{server.url}/api/sales/predict"

        def post(args):
            url, body = args
            return requests.post(url, headers=write_headers("sales"), json=body, timeout=30).status_code

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(post, [(predict, b) for b in normal + drifted]))
            codes += list(pool.map(post, [(f"{server.url}/api/sales/actuals", b) for b in actuals]))
        assert codes.count(200) == 480 and codes.count(201) == len(actuals), set(codes)
        assert len(pids_that_served(prom, "/api/sales/predict")) == 2, "both workers must have answered"
        repeat = requests.post(f"{server.url}/api/sales/actuals", headers=write_headers("sales"), json=actuals[0], timeout=10)
        assert repeat.status_code == 200 and repeat.json()["status"] == "duplicate"
        clash = requests.post(f"{server.url}/api/sales/actuals", headers=write_headers("sales"), json=actuals[0] | {"Weekly_Sales": 1.0}, timeout=10)
        assert clash.status_code == 409 and "Store=" in clash.json()["error"]["message"]

        deadline = time.monotonic() + 20
        while True:      # every worker adds its counts within a flush interval
            body = requests.get(f"{server.url}/api/sales/monitoring", timeout=10).json()
            current = body["versions"][0]
            if current["requests"] == 480 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert current["requests"] == 480
        temperature = current["drift"]["features"]["Temperature"]
        assert temperature["status"] == "drift" and temperature["observations"] == 480
        assert temperature["above_share"] > 0.1
        assert current["drift"]["features"]["Store"]["status"] == "stable"
        live = current["live_error"]
        assert live["actuals"] == len(actuals) and live["model_score"] is not None
        assert live["baseline_score"] is not None and live["in_training"] == len(actuals)

        time.sleep(1.0)  # both workers' gauges refreshed from the store since the last write
        for _ in range(6):   # whichever worker answers, one value per series, the store's
            text = requests.get(f"{server.url}/api/sales/metrics", timeout=10).text
            version = current["model_version"]
            assert gauge(text, "model_monitoring_requests", service="sales", version=version) == [480.0]
            psi = gauge(text, "model_input_drift_psi", service="sales", version=version, feature="Temperature")
            assert len(psi) == 1 and psi[0] == pytest.approx(temperature["psi"], rel=1e-6)
            assert gauge(text, "model_live_actuals", service="sales", version=version) == [float(len(actuals))]
            served = gauge(text, "model_live_error", service="sales", version=version, model="served", metric="WMAE")
            assert served == [pytest.approx(live["model_score"])]
        # The same figures as CloudWatch embedded-metric lines in the JSON logs (each worker, every second here).
        # A worker writes the service's document before its feature documents, so wait for both; read
        # whole lines only (the last one may still be being written).
        deadline = time.monotonic() + 10
        while True:
            lines = Path(server.log.name).read_text().split("\n")[:-1]
            emf = [json.loads(line) for line in lines if line.startswith("{") and '"_aws"' in line]
            final = [d for d in emf if d.get("Actuals") == len(actuals) and "LiveErrorRatio" in d]
            drift_docs = [d for d in emf if d.get("Feature") == "Temperature"
                          and d["DriftPSI"] == pytest.approx(temperature["psi"])]
            if (final and drift_docs) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
    assert final and final[-1]["LiveErrorModel"] == pytest.approx(live["model_score"])
    assert final[-1]["LiveErrorRatio"] == pytest.approx(live["model_score"] / live["baseline_score"])
    assert final[-1]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Service"]]
    assert drift_docs, [d.get("DriftPSI") for d in emf if d.get("Feature") == "Temperature"]
