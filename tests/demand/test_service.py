"""The service in the platform: the gateway mounts it, the notebook runs (the image: tests/test_dockerfiles.py)."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.demand.conftest import ROOT


def test_gateway_serves_demand_from_the_store(demand_artifact, tmp_path, monkeypatch):
    from services.common.store import ModelStore

    uri = (tmp_path / "store").as_uri()
    ModelStore(uri, tmp_path / "publish-cache").publish("demand", demand_artifact)
    monkeypatch.setenv("MODEL_STORE_URI", uri)
    monkeypatch.setenv("MODEL_CACHE_DIR", str(tmp_path / "cache"))
    from werkzeug.test import Client

    from services.gateway import built_services, create_app

    assert "demand" in built_services()  # mounted from its registry entry and package alone
    client = Client(create_app(services=["demand"]))
    deadline = time.monotonic() + 60
    while client.get("/api/demand/ready").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert client.get("/api/demand/ready").status_code == 200
    resp = client.post("/api/demand/predict", json={"date": "2011-06-15", "store_id": 25027,
                                                    "product_id": "7192100337", "price": 5.99, "promotion": True})
    assert resp.status_code == 200 and resp.json["prediction"] > 0 and resp.json["model_version"]
    assert client.get("/api/demand/catalog").json["products"]


def test_notebook_runs_on_a_small_slice(tmp_path):
    env = {**os.environ, "NOTEBOOK_SMALL": "1", "NOTEBOOK_OUTPUT": str(tmp_path / "figures"), "MPLBACKEND": "Agg"}
    out = subprocess.run([sys.executable, str(ROOT / "notebooks" / "demand.py")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "chosen:" in out.stdout and "baseline" in out.stdout and "target" in out.stdout
    assert {p.name for p in (tmp_path / "figures").iterdir()} == {
        "demand_price_promotion.png", "demand_comparison.png", "demand_holdout_scatter.png",
        "demand_price_response.png"}
