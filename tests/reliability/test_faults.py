"""Faults: a dead model store, bad releases under load, slow and abusive clients."""
from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import boto3
import pytest
import requests

from services.common.manifest import build_manifest
from services.common.store import ModelStore
from tests.common.test_app import demo_api, json_loader
from tests.conftest import GunicornServer, MotoServer, free_port, make_settings


def publish_demo(store: ModelStore, tmp: Path, version: str, scale: float) -> None:
    folder = tmp / f"build-{version}"
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps({"scale": scale}))
    build_manifest(folder, service="demo", version=version, metrics={}, features=[], data_fingerprint="x",
                   libraries=[])
    store.publish("demo", folder)


def wait_until(condition, timeout: float = 20.0, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError("condition not met in time")


@pytest.mark.slow
def test_store_down_at_start_then_back(aws_env, tmp_path, monkeypatch):
    """Endpoint down: live but not ready, predictions 503; it recovers alone, no restart."""
    from services.common.app import create_service_app

    server = MotoServer(free_port())
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint)
    settings = make_settings("s3://models/root", tmp_path, model_refresh_seconds=0.5)
    app = create_service_app(demo_api(), json_loader, settings)
    holder = app.extensions["model_holder"]
    client = app.test_client()
    try:
        assert client.get("/api/demo/health").status_code == 200
        wait_until(lambda: "LATEST" in (holder.last_error or ""))
        ready = client.get("/api/demo/ready")
        assert ready.status_code == 503 and "cannot read LATEST" in ready.json["reason"]
        assert client.post("/api/demo/predict", json={"x": 1}).status_code == 503
        metrics = client.get("/api/demo/metrics").get_data(as_text=True)
        assert 'model_load_failures_total{service="demo"}' in metrics

        server.start()  # the endpoint comes back; an engineer publishes
        boto3.client("s3", endpoint_url=server.endpoint).create_bucket(Bucket="models")
        publish_demo(ModelStore("s3://models/root", tmp_path / "publisher-cache"), tmp_path, "v1", 3)
        wait_until(lambda: client.get("/api/demo/ready").status_code == 200, timeout=45)
        assert client.post("/api/demo/predict", json={"x": 2}).json == {"prediction": 6.0, "model_version": "v1"}
    finally:
        holder.stop()
        server.stop()


@pytest.mark.slow
def test_release_and_rollback_under_load_fail_no_request(sales_artifact, tmp_path):
    """LATEST moves forward and back while 4 clients hammer /predict: every request succeeds."""
    import shutil

    store_uri = (tmp_path / "store").as_uri()
    store = ModelStore(store_uri, tmp_path / "cache")
    v1 = store.publish("sales", sales_artifact)
    second = tmp_path / "second"
    shutil.copytree(sales_artifact, second)
    manifest = json.loads((second / "manifest.json").read_text())
    manifest["version"] = v2 = v1 + "-b"
    (second / "manifest.json").write_text(json.dumps(manifest))
    env = {"MODEL_STORE_URI": store_uri, "MODEL_CACHE_DIR": str(tmp_path / "srv-cache"),
           "MODEL_REFRESH_SECONDS": "0.2", "TMPDIR": str(tmp_path)}
    body = {"Store": 1, "Date": "2012-08-10", "Holiday_Flag": 0, "Temperature": 80.0, "Fuel_Price": 3.5,
            "CPI": 220.0, "Unemployment": 7.0}
    with GunicornServer("services.sales.api:create_app()", env) as server:
        server.wait_ready("/api/sales/ready")
        stop = threading.Event()
        statuses: list[int] = []
        versions: set[str] = set()

        def client():
            session = requests.Session()
            while not stop.is_set():
                resp = session.post(server.url + "/api/sales/predict", json=body, timeout=10)
                statuses.append(resp.status_code)
                if resp.status_code == 200:
                    versions.add(resp.json()["model_version"])

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        store.publish("sales", second)                 # forward
        wait_until(lambda: v2 in versions, timeout=30)
        store.rollback("sales", v1)                    # back
        time.sleep(2)
        store.rollback("sales", v2)                    # forward again
        time.sleep(2)
        stop.set()
        for t in threads:
            t.join()
    assert statuses and set(statuses) == {200}, f"{len([s for s in statuses if s != 200])} failed"
    assert versions == {v1, v2}
    assert len(statuses) > 50


@pytest.mark.slow
def test_abusive_clients_are_bounded_and_answered(sales_artifact, tmp_path):
    store_uri = (tmp_path / "store").as_uri()
    ModelStore(store_uri, tmp_path / "cache").publish("sales", sales_artifact)
    env = {"MODEL_STORE_URI": store_uri, "MODEL_CACHE_DIR": str(tmp_path / "srv-cache"),
           "GUNICORN_TIMEOUT": "3", "TMPDIR": str(tmp_path)}
    with GunicornServer("services.sales.api:create_app()", env) as server:
        server.wait_ready("/api/sales/ready")
        url = server.url + "/api/sales/predict"
        # Oversized body: 413 JSON before the app parses it.
        big = requests.post(url, data=b"[" + b"1," * 600_000 + b"1]", headers={"Content-Type": "application/json"})
        assert big.status_code == 413 and big.json()["error"]["code"] == "payload_too_large"
        # Wrong content type, deep nesting, a large but allowed array: all 4xx JSON.
        assert requests.post(url, data="Store=1").status_code == 415
        deep = requests.post(url, data="[" * 50_000 + "]" * 50_000, headers={"Content-Type": "application/json"})
        assert deep.status_code == 400 and deep.json()["error"]["code"] == "invalid_json"
        wide = requests.post(url, json=list(range(80_000)))
        assert wide.status_code == 400 and wide.json()["error"]["details"]
        # A slow client trickling its headers holds at most one worker, for a bounded time.
        slow = socket.create_connection(("127.0.0.1", server.port))
        slow.sendall(b"POST /api/sales/predict HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        ok = requests.get(server.url + "/api/sales/health", timeout=5)
        assert ok.status_code == 200  # the other worker still answers
        slow.settimeout(1.0)
        closed = False
        while time.monotonic() - started < 20:
            try:
                slow.sendall(b"X")
                if slow.recv(1024) == b"":
                    closed = True
                    break
            except socket.timeout:
                continue
            except OSError:
                closed = True
                break
        assert closed, "a slow client held its connection for over 20 s"
        slow.close()
        assert requests.get(server.url + "/api/sales/ready", timeout=5).status_code == 200
