"""The monitoring queue is bounded by served rows (MONITORING_QUEUE_ROWS): past it observations are dropped
and counted, a request never fails or waits; a quarter of the bound waiting is bucketed without waiting for
the flush; a batch view counts each of its rows."""
from __future__ import annotations

import json
import logging
import re
import time

import pytest
from pydantic import Field

from services.common.api import RequestModel, current_model
from services.common.app import create_service_app
from tests.conftest import make_settings
from tests.monitoring.conftest import Row, publish_toy, toy_api, toy_monitoring

sqlite_only = pytest.mark.parametrize("monitoring_env", ["sqlite"], indirect=True)   # the bound is the store's no matter


class Batch(RequestModel):
    rows: list[Row] = Field(min_length=1, max_length=1000)


def batch_app(monitoring_env, file_store_uri, tmp_path, monkeypatch, limit: int):
    monkeypatch.setenv("MONITORING_QUEUE_ROWS", str(limit))
    api = toy_api()

    @api.route("/batch", methods=("POST",), body=Batch)
    def batch(body: Batch):
        loaded = current_model()
        return {"predictions": [r.x * loaded.model["scale"] for r in body.rows], "model_version": loaded.version}

    spec = toy_monitoring()
    spec.observe["batch"] = lambda objects, model: [r.model_dump() for r in objects["body"].rows]
    spec.rows["batch"] = lambda objects: len(objects["body"].rows)
    app = create_service_app(api, lambda d, m: json.loads((d / "model.json").read_text()),
                             make_settings(file_store_uri, tmp_path), start_model_refresh=False,
                             extensions={"monitoring_spec": spec})
    publish_toy(app.extensions["model_store"], tmp_path, "v1")
    app.extensions["model_holder"].refresh()
    return app


def body(n: int, x: float = 0.5) -> dict:
    return {"rows": [{"x": x, "color": "red"} for _ in range(n)]}


def dropped_total(client) -> tuple[float, float]:
    text = client.get("/api/toy/metrics").text
    found = [re.search(rf'^{name}{{service="toy"}} (\S+)$', text, re.M)
             for name in ("model_monitoring_dropped_total", "model_monitoring_dropped_rows_total")]
    return tuple(float(m.group(1)) if m else 0.0 for m in found)


@sqlite_only
def test_a_full_queue_drops_and_counts_and_every_request_is_answered(monitoring_env, file_store_uri, tmp_path,
                                                                     monkeypatch, caplog):
    app = batch_app(monitoring_env, file_store_uri, tmp_path, monkeypatch, limit=50)
    monitor, client = app.extensions["monitor"], app.test_client()
    before = dropped_total(client)
    caplog.set_level(logging.WARNING, logger="services.monitoring")
    root = logging.getLogger()     # configure_logging replaces the root's handlers (caplog's too) the first
    if caplog.handler not in root.handlers:      # time in a process only: add caplog's back, never twice
        monkeypatch.setattr(root, "handlers", [*root.handlers, caplog.handler])
    with monitor._lock:             # the flush thread stuck (a slow store): nothing is bucketed meanwhile
        for i in range(20):         # 10 rows each: 5 fit in the bound, 15 are dropped
            resp = client.post("/api/toy/batch", json=body(10))
            assert resp.status_code == 200 and len(resp.json["predictions"]) == 10
            assert monitor.queued_rows <= 50
            assert monitor.queued_rows == sum(entry[-1] for entry in monitor.queue)
        big = client.post("/api/toy/batch", json=body(60))     # alone past the bound: dropped, answered
        assert big.status_code == 200 and len(big.json["predictions"]) == 60
        assert monitor.queued_rows == 50 and monitor.peak_rows == 50 and len(monitor.queue) == 5
        assert (monitor.dropped, monitor.dropped_rows) == (16, 210)
    after = dropped_total(client)
    assert (after[0] - before[0], after[1] - before[1]) == (16, 210)
    warnings = [r for r in caplog.records if "queue full" in r.getMessage()]
    assert len(warnings) == 1, "at most one warning a minute"
    current = client.get("/api/toy/monitoring").json["versions"][0]
    assert current["requests"] == 5 and current["drift"]["features"]["x"]["observations"] == 50
    assert monitor.queued_rows == 0 and not monitor.queue
    # The queue has room again: new observations are counted.
    assert client.post("/api/toy/batch", json=body(10)).status_code == 200
    assert client.get("/api/toy/monitoring").json["versions"][0]["requests"] == 6


@sqlite_only
def test_a_quarter_of_the_bound_waiting_is_bucketed_before_the_flush(monitoring_env, file_store_uri, tmp_path,
                                                                     monkeypatch):
    assert float(monitoring_env["MONITORING_FLUSH_SECONDS"]) >= 3600    # no flush comes during this test
    app = batch_app(monitoring_env, file_store_uri, tmp_path, monkeypatch, limit=400)
    monitor, client = app.extensions["monitor"], app.test_client()
    for _ in range(9):
        assert client.post("/api/toy/batch", json=body(10)).status_code == 200
    time.sleep(0.3)
    assert monitor.queued_rows == 90, "below a quarter of the bound the rows wait for the flush"
    assert client.post("/api/toy/batch", json=body(10)).status_code == 200      # 100 rows: a quarter
    deadline = time.monotonic() + 10
    while monitor.queued_rows and time.monotonic() < deadline:
        time.sleep(0.02)
    assert monitor.queued_rows == 0 and not monitor.queue
    with monitor._lock:
        counted = sum(monitor._pending_counts[("v1", "x")].values())
        assert counted == 100 and monitor._pending_requests == {"v1": 10}   # bucketed, not yet in the store
    assert client.get("/api/toy/monitoring").json["versions"][0]["requests"] == 10


@sqlite_only
def test_a_failing_row_count_counts_one_row_and_never_fails_the_request(monitoring_env, file_store_uri, tmp_path,
                                                                        monkeypatch):
    app = batch_app(monitoring_env, file_store_uri, tmp_path, monkeypatch, limit=50)
    monitor = app.extensions["monitor"]
    monitor.spec.rows["batch"] = lambda objects: 1 / 0
    with monitor._lock:
        assert app.test_client().post("/api/toy/batch", json=body(10)).status_code == 200
        assert monitor.queued_rows == 1


def test_the_bound_is_validated(monkeypatch):
    from services.common.config import ConfigError
    from services.common.monitoring import load_monitoring_settings

    monkeypatch.setenv("MONITORING_QUEUE_ROWS", "0")
    with pytest.raises(ConfigError, match="MONITORING_QUEUE_ROWS"):
        load_monitoring_settings()


@sqlite_only
def test_monitoring_off_keeps_nothing(monitoring_env, file_store_uri, tmp_path, monkeypatch):
    monkeypatch.setenv("MONITORING_BACKEND", "off")
    app = batch_app(monitoring_env, file_store_uri, tmp_path, monkeypatch, limit=50)
    monitor = app.extensions["monitor"]
    for _ in range(10):
        assert app.test_client().post("/api/toy/batch", json=body(10)).status_code == 200
    assert monitor.queued_rows == 0 and not monitor.queue and monitor.dropped == 0
