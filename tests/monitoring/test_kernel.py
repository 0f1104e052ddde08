"""The monitoring extension on a toy service: drift, actuals, the report, gauges, a failing store."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from services.common.monitoring import MIN_ACTUALS
from tests.monitoring.conftest import publish_toy
from tests.conftest import write_headers


def post_rows(client, xs, color="red"):
    for x in xs:
        assert client.post("/api/toy/predict", json={"x": float(x), "color": color}).status_code == 200


def test_inputs_like_training_are_stable_and_drifted_ones_are_drift(toy):
    client = toy.test_client()
    rng = np.random.default_rng(1)
    post_rows(client, rng.normal(0, 1, 150), "red")
    post_rows(client, rng.normal(0, 1, 150), "blue")
    body = client.get("/api/toy/monitoring").json
    current = body["versions"][0]
    assert current["model_version"] == "v1" and current["serving"] and current["requests"] == 300
    assert current["drift"]["features"]["x"]["status"] == "stable"
    assert current["drift"]["features"]["color"]["status"] == "stable"
    assert "inputs stable" in current["verdict"]
    # Shifted numbers and an unknown colour: both features drift, with out-of-range / unknown shares.
    post_rows(client, rng.normal(4, 1, 300), "green")
    current = client.get("/api/toy/monitoring").json["versions"][0]
    x, color = current["drift"]["features"]["x"], current["drift"]["features"]["color"]
    assert x["status"] == "drift" and x["psi"] > 0.25 and x["out_of_range_share"] > 0.2
    assert color["status"] == "drift" and color["unknown_share"] == pytest.approx(0.5)
    assert current["requests"] == 600 and "inputs drifted: x (PSI" in current["verdict"]


def test_requests_that_fail_are_not_observed(toy):
    client = toy.test_client()
    assert client.post("/api/toy/predict", json={"x": 5000, "color": "red"}).status_code == 400
    assert client.get("/api/toy/monitoring").json["versions"][0]["requests"] == 0


def test_actuals_are_scored_idempotent_and_conflicts_are_409(toy):
    client = toy.test_client()
    first = client.post("/api/toy/actuals", headers=write_headers("toy"), json={"id": 12, "x": 1.5, "color": "red", "y": 4.0})
    assert first.status_code == 201, first.json
    record = first.json
    assert record["status"] == "stored" and record["key"] == "id=12" and record["model_version"] == "v1"
    assert record["prediction"] == 3.0 and record["baseline_prediction"] == 0.0
    assert record["model_loss"] == 1.0 and record["baseline_loss"] == 4.0 and record["in_training"] is False
    again = client.post("/api/toy/actuals", headers=write_headers("toy"), json={"id": 12, "x": 1.5, "color": "red", "y": 4.0})
    assert again.status_code == 200 and again.json["status"] == "duplicate" and again.json["prediction"] == 3.0
    conflict = client.post("/api/toy/actuals", headers=write_headers("toy"), json={"id": 12, "x": 1.5, "color": "red", "y": 9.0})
    assert conflict.status_code == 409
    error = conflict.json["error"]
    assert error["code"] == "conflict" and "id=12" in error["message"] and error["details"][0]["field"] == "id"
    live = client.get("/api/toy/monitoring").json["versions"][0]["live_error"]
    assert live["actuals"] == 1 and live["model_score"] == 1.0 and live["baseline_score"] == 4.0
    bad = client.post("/api/toy/actuals", headers=write_headers("toy"), json={"id": 13, "x": 1.5, "color": "red"})
    assert bad.status_code == 400 and bad.json["error"]["details"][0]["field"] == "y"


def test_verdict_waits_for_enough_actuals_then_compares_with_the_baseline(toy):
    client = toy.test_client()
    for i in range(MIN_ACTUALS - 1):
        assert client.post("/api/toy/actuals", headers=write_headers("toy"), json={"id": i, "x": 1.0, "color": "red", "y": 2.5}).status_code == 201
    current = client.get("/api/toy/monitoring").json["versions"][0]
    assert current["verdict"].startswith(f"not enough actuals yet: {MIN_ACTUALS - 1} of the {MIN_ACTUALS}")
    assert current["live_error"]["beats_baseline"] is None
    client.post("/api/toy/actuals", headers=write_headers("toy"), json={"id": 100, "x": 1.0, "color": "red", "y": 2.5})
    live = client.get("/api/toy/monitoring").json["versions"][0]
    assert live["live_error"]["model_score"] == pytest.approx(0.5) and live["live_error"]["baseline_score"] == 2.5
    assert live["live_error"]["beats_baseline"] is True and live["live_error"]["in_training"] == 10
    assert live["verdict"].startswith(f"scaled beats the constant baseline on {MIN_ACTUALS} live actuals: MAE 0.5 vs 2.5"
                                      " (10 of them in the training data)")
    days = live["live_error"]["by_day"]
    assert sum(d["actuals"] for d in days) == MIN_ACTUALS and days == sorted(days, key=lambda d: d["day"])


def test_a_worse_model_is_reported_as_not_beating_the_baseline(toy, tmp_path):
    client = toy.test_client()
    assert client.get("/api/toy/monitoring").status_code == 200     # v1 has been seen serving
    publish_toy(toy.extensions["model_store"], tmp_path, "v2", scale=10.0, baseline=1.0)
    toy.extensions["model_holder"].refresh()
    for i in range(MIN_ACTUALS):
        client.post("/api/toy/actuals", headers=write_headers("toy"), json={"id": i, "x": 1.0, "color": "red", "y": 2.0})
    versions = client.get("/api/toy/monitoring").json["versions"]
    assert [v["model_version"] for v in versions] == ["v2", "v1"] and versions[0]["serving"]
    assert "does NOT beat the constant baseline" in versions[0]["verdict"]
    assert versions[0]["live_error"]["ratio_to_baseline"] == pytest.approx(8.0)
    assert versions[1]["live_error"]["actuals"] == 0 and versions[1]["live_since"] <= versions[0]["live_since"]


def test_gauges_and_emf_carry_the_same_figures(toy, caplog):
    client = toy.test_client()
    post_rows(client, np.full(250, 9.0), "red")            # every value above the training maximum
    for i in range(MIN_ACTUALS):
        client.post("/api/toy/actuals", headers=write_headers("toy"), json={"id": i, "x": 1.0, "color": "red", "y": 3.0})
    monitor = toy.extensions["monitor"]
    monitor.settings.emf_seconds = 1
    monitor._last_emf = 0.0
    with caplog.at_level(logging.INFO, logger="services.monitoring.emf"):
        assert monitor.refresh_gauges() is not None
    text = client.get("/api/toy/metrics").get_data(as_text=True)
    assert 'model_input_drift_level{feature="x",service="toy",version="v1"} 2.0' in text
    assert 'model_input_out_of_range_share{feature="x",service="toy",version="v1"} 1.0' in text
    assert 'model_monitoring_requests{service="toy",version="v1"} 250.0' in text
    assert 'model_live_error{metric="MAE",model="served",service="toy",version="v1"} 1.0' in text
    assert 'model_live_error{metric="MAE",model="baseline",service="toy",version="v1"} 3.0' in text
    docs = [r for r in caplog.records if hasattr(r, "_aws")]
    service_doc = next(r for r in docs if "Feature" not in r.__dict__)
    assert service_doc.LiveErrorRatio == pytest.approx(1 / 3) and service_doc.Requests == 250
    directive = service_doc._aws["CloudWatchMetrics"][0]
    assert directive["Dimensions"] == [["Service"]] and {"Name": "DriftMaxPSI", "Unit": "None"} in directive["Metrics"]
    feature_doc = next(r for r in docs if getattr(r, "Feature", None) == "x")
    assert feature_doc.OutOfRangeShare == 1.0 and feature_doc.DriftPSI > 0.25
    from services.common.logs import JsonFormatter
    line = json.loads(JsonFormatter().format(feature_doc))
    assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "StadiumML/Monitoring" and line["Feature"] == "x"


def test_a_version_without_a_profile_says_so(toy, tmp_path):
    publish_toy(toy.extensions["model_store"], tmp_path, "v0old", profile=False)
    holder = toy.extensions["model_holder"]
    holder.store.rollback("toy", "v0old")
    holder.refresh()
    client = toy.test_client()
    post_rows(client, [0.1], "red")
    current = next(v for v in client.get("/api/toy/monitoring").json["versions"] if v["serving"])
    assert current["drift"]["status"] == "unavailable" and "no training profile" in current["drift"]["note"]
    assert current["requests"] == 1


def test_a_failing_store_never_fails_predictions_or_readiness_and_keeps_its_counts(moto_server, monkeypatch,
                                                                                    file_store_uri, tmp_path):
    """A DynamoDB table that does not exist yet (the real API's ResourceNotFound), then created."""
    import json as _json

    from services.common.app import create_service_app
    from tests.conftest import make_settings
    from tests.monitoring.conftest import toy_api, toy_monitoring

    monkeypatch.setenv("MONITORING_BACKEND", "dynamodb")
    monkeypatch.setenv("MONITORING_DYNAMODB_TABLE", "not-created-yet")
    monkeypatch.setenv("MONITORING_FLUSH_SECONDS", "3600")
    app = create_service_app(toy_api(), lambda d, m: _json.loads((d / "model.json").read_text()),
                             make_settings(file_store_uri, tmp_path), start_model_refresh=False,
                             extensions={"monitoring_spec": toy_monitoring()})
    publish_toy(app.extensions["model_store"], tmp_path, "v1")
    app.extensions["model_holder"].refresh()
    client = app.test_client()
    post_rows(client, [0.5] * 5)
    assert client.get("/api/toy/health").status_code == 200
    assert client.get("/api/toy/ready").status_code == 200
    resp = client.get("/api/toy/monitoring")
    assert resp.status_code == 503 and resp.json["error"]["code"] == "monitoring_unavailable"
    assert "not-created-yet" in resp.json["error"]["message"]
    resp = client.post("/api/toy/actuals", headers=write_headers("toy"), json={"id": 1, "x": 1.0, "color": "red", "y": 1.0})
    assert resp.status_code == 503 and resp.json["error"]["code"] == "monitoring_unavailable"
    assert "model_monitoring_failures_total" in client.get("/api/toy/metrics").get_data(as_text=True)
    # The table appears (e.g. terraform applied late): the counts kept in memory reach it.
    import boto3

    boto3.client("dynamodb", endpoint_url=moto_server.endpoint).create_table(
        TableName="not-created-yet", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    post_rows(client, [0.5] * 2)
    body = client.get("/api/toy/monitoring").json
    assert body["versions"][0]["requests"] == 7


def test_a_version_whose_manifest_is_gone_warns_once_and_is_asked_again_later(toy, caplog, monkeypatch):
    """A pruned version stays in the counts: its missing manifest was logged every flush cycle, forever."""
    import services.common.monitoring as monitoring

    monitor = toy.extensions["monitor"]
    clock = [1000.0]
    monkeypatch.setattr(monitoring.time, "monotonic", lambda: clock[0])
    asked = []
    real = monitor.model_store.manifest
    monkeypatch.setattr(monitor.model_store, "manifest", lambda service, version: asked.append(version) or real(service, version))
    with caplog.at_level(logging.WARNING, logger="services.monitoring"):
        for _ in range(5):
            assert monitor.manifest("v-pruned") is None
        clock[0] += monitoring.MANIFEST_RETRY_SECONDS + 1
        assert monitor.manifest("v-pruned") is None
    assert asked == ["v-pruned", "v-pruned"]          # once, then again after the retry interval
    assert [r.message for r in caplog.records].count("no manifest for a monitored version") == 1
