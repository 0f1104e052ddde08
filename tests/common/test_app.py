"""The app factory: platform routes, JSON errors, request ids, CORS, hot swap and rollback."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from pydantic import Field

from services.common.api import Api, RequestModel, current_model, invalid
from services.common.app import create_service_app
from services.common.config import ConfigError, load_settings
from services.common.manifest import build_manifest
from services.common.store import ModelStore
from tests.conftest import make_settings


class EchoRequest(RequestModel):
    x: float = Field(ge=0, description="a non-negative number")


def json_loader(directory: Path, manifest: dict) -> dict:
    model = json.loads((directory / "model.json").read_text())
    if model.get("broken"):
        raise ValueError("this version cannot load")
    return model


def demo_api() -> Api:
    api = Api("demo")

    @api.route("/predict", methods=("POST",), body=EchoRequest)
    def predict(body: EchoRequest):
        loaded = current_model()
        if body.x > 100:
            raise invalid("x", "must be at most 100 for this model")
        return {"prediction": body.x * loaded.model["scale"], "model_version": loaded.version}

    return api


def publish(store: ModelStore, tmp_path: Path, version: str, **model) -> None:
    folder = tmp_path / f"build-{version}"
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps(model))
    build_manifest(folder, service="demo", version=version, metrics={"mae": 1.0}, features=[],
                   data_fingerprint="x", libraries=[])
    store.publish("demo", folder)


@pytest.fixture
def demo(store_uri, tmp_path):
    """An app over an empty store, its refresh thread off: tests call refresh() themselves."""
    settings = make_settings(store_uri, tmp_path, cors_origins="https://ui.example.com")
    app = create_service_app(demo_api(), json_loader, settings, start_model_refresh=False)
    return app, app.extensions["model_holder"], app.extensions["model_store"]


def test_not_ready_until_a_model_is_loaded(demo, tmp_path):
    app, holder, store = demo
    client = app.test_client()
    assert client.get("/api/demo/health").status_code == 200
    resp = client.get("/api/demo/ready")
    assert resp.status_code == 503 and "no model loaded" in resp.json["reason"]
    resp = client.post("/api/demo/predict", json={"x": 1})
    assert resp.status_code == 503 and resp.json["error"]["code"] == "model_unavailable"
    publish(store, tmp_path, "v1", scale=2)
    assert holder.refresh()
    assert client.get("/api/demo/ready").json == {"status": "ready", "service": "demo", "model_version": "v1",
                                                  "reason": None, "store": store.uri, "last_error": None,
                                                  "degraded": None}
    assert client.post("/api/demo/predict", json={"x": 3}).json == {"prediction": 6.0, "model_version": "v1"}


def test_new_version_swaps_and_rollback_swaps_back(demo, tmp_path):
    app, holder, store = demo
    client = app.test_client()
    publish(store, tmp_path, "v1", scale=2)
    holder.refresh()
    publish(store, tmp_path, "v2", scale=10)
    assert holder.refresh()
    assert client.post("/api/demo/predict", json={"x": 1}).json["prediction"] == 10.0
    store.rollback("demo", "v1")
    assert holder.refresh()
    assert client.get("/api/demo/model").json["version"] == "v1"
    assert client.post("/api/demo/predict", json={"x": 1}).json["prediction"] == 2.0


def test_broken_version_leaves_old_one_serving(demo, tmp_path):
    app, holder, store = demo
    client = app.test_client()
    publish(store, tmp_path, "v1", scale=2)
    holder.refresh()
    publish(store, tmp_path, "v2", broken=True)
    assert not holder.refresh()
    assert client.post("/api/demo/predict", json={"x": 1}).json == {"prediction": 2.0, "model_version": "v1"}
    assert "v2 refused" in holder.last_error
    metrics = client.get("/api/demo/metrics").get_data(as_text=True)
    assert 'model_load_failures_total{service="demo"}' in metrics
    publish(store, tmp_path, "v3", scale=5)  # the next good version is taken
    assert holder.refresh() and holder.current.version == "v3"


def test_tampered_version_is_refused_and_old_keeps_serving(demo, tmp_path):
    app, holder, store = demo
    publish(store, tmp_path, "v1", scale=2)
    holder.refresh()
    publish(store, tmp_path, "v2", scale=3)
    evil = tmp_path / "evil.json"
    evil.write_text(json.dumps({"scale": 1000}))
    store.backend.upload(evil, "demo/v2/model.json")
    assert not holder.refresh()
    assert holder.current.version == "v1" and "sha256" in holder.last_error


def test_latest_naming_missing_version_is_refused(demo, tmp_path):
    app, holder, store = demo
    publish(store, tmp_path, "v1", scale=2)
    holder.refresh()
    store.backend.write_text("demo/LATEST", "v404\n")
    assert not holder.refresh()
    assert holder.current.version == "v1"


def test_running_app_picks_up_latest_without_restart(file_store_uri, tmp_path):
    settings = make_settings(file_store_uri, tmp_path, model_refresh_seconds=0.2)
    store = ModelStore(file_store_uri, tmp_path / "cache")
    publish(store, tmp_path, "v1", scale=2)
    app = create_service_app(demo_api(), json_loader, settings)  # background refresh thread on
    holder = app.extensions["model_holder"]
    client = app.test_client()
    try:
        _wait(lambda: client.get("/api/demo/ready").status_code == 200)
        publish(store, tmp_path, "v2", scale=7)
        _wait(lambda: client.post("/api/demo/predict", json={"x": 1}).json.get("model_version") == "v2")
        assert client.post("/api/demo/predict", json={"x": 1}).json["prediction"] == 7.0
    finally:
        holder.stop()


def _wait(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize("request_kwargs,status,code", [
    ({"path": "/api/demo/nowhere"}, 404, "not_found"),
    ({"path": "/api/demo/predict", "method": "GET"}, 405, "method_not_allowed"),
    ({"path": "/api/demo/predict", "method": "POST", "data": "x=1",
      "content_type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
    ({"path": "/api/demo/predict", "method": "POST", "data": "{not json", "content_type": "application/json"},
     400, "invalid_json"),
    ({"path": "/api/demo/predict", "method": "POST", "data": "[" * 100000 + "]" * 100000,
      "content_type": "application/json"}, 400, "invalid_json"),
    ({"path": "/api/demo/predict", "method": "POST", "data": "x" * 2_000_000, "content_type": "application/json"},
     413, "payload_too_large"),
])
def test_errors_are_json_never_html(demo, tmp_path, request_kwargs, status, code):
    app, holder, store = demo
    publish(store, tmp_path, "v1", scale=2)
    holder.refresh()
    kwargs = dict(request_kwargs)
    resp = app.test_client().open(kwargs.pop("path"), **kwargs)
    assert resp.status_code == status
    assert resp.is_json and resp.json["error"]["code"] == code and resp.json["error"]["message"]


@pytest.mark.parametrize("body,field", [
    ({}, "x"), ({"x": "1"}, "x"), ({"x": -1}, "x"), ({"x": 1, "y": 2}, "y"), ({"x": 101}, "x"),
])
def test_bad_input_names_the_field(demo, tmp_path, body, field):
    app, holder, store = demo
    publish(store, tmp_path, "v1", scale=2)
    holder.refresh()
    resp = app.test_client().post("/api/demo/predict", json=body)
    assert resp.status_code == 400
    assert [d["field"] for d in resp.json["error"]["details"]] == [field]


def test_nan_is_refused_by_field_name(demo, tmp_path):
    app, holder, store = demo
    publish(store, tmp_path, "v1", scale=2)
    holder.refresh()
    resp = app.test_client().post("/api/demo/predict", data='{"x": NaN}', content_type="application/json")
    assert resp.status_code == 400 and resp.json["error"]["details"][0]["field"] == "x"


def test_request_id_is_echoed_or_made(demo):
    client = demo[0].test_client()
    assert client.get("/api/demo/health", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    assert len(client.get("/api/demo/health").headers["X-Request-ID"]) == 32


def test_cors_answers_only_configured_origins(demo):
    client = demo[0].test_client()
    allowed = client.get("/api/demo/health", headers={"Origin": "https://ui.example.com"})
    assert allowed.headers.get("Access-Control-Allow-Origin") == "https://ui.example.com"
    other = client.get("/api/demo/health", headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_openapi_is_generated_from_the_schemas(demo):
    doc = demo[0].test_client().get("/api/demo/openapi.json").json
    op = doc["paths"]["/api/demo/predict"]["post"]
    schema_ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert schema["properties"]["x"]["minimum"] == 0 and schema["additionalProperties"] is False
    assert {"400", "413", "415", "503"} <= set(op["responses"])
    assert {"/api/demo/health", "/api/demo/ready", "/api/demo/model", "/api/demo/metrics"} <= set(doc["paths"])


def test_metrics_count_requests(demo):
    client = demo[0].test_client()
    client.get("/api/demo/health")
    text = client.get("/api/demo/metrics").get_data(as_text=True)
    assert 'http_requests_total{endpoint="/api/demo/health",method="GET",service="demo",status="200"}' in text


def test_metrics_keep_one_series_for_every_unknown_method(demo):
    """A client's made-up methods (any token) are counted as "other", not as a new series each."""
    client = demo[0].test_client()
    for i in range(40):
        assert client.open("/api/demo/health", method=f"NOPE{i}").status_code == 405
    client.open("/api/demo/health", method="OPTIONS")
    text = client.get("/api/demo/metrics").get_data(as_text=True)
    assert "NOPE" not in text
    assert 'http_requests_total{endpoint="unmatched",method="other",service="demo",status="405"}' in text
    assert 'method="OPTIONS"' in text
    methods = set(re.findall(r'http_requests_total\{[^}]*method="([^"]+)"', text))
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}


def test_bad_configuration_names_the_variable(monkeypatch):
    monkeypatch.setenv("MODEL_REFRESH_SECONDS", "soon")
    with pytest.raises(ConfigError, match="MODEL_REFRESH_SECONDS"):
        load_settings()
    monkeypatch.setenv("MODEL_REFRESH_SECONDS", "5")
    monkeypatch.setenv("MODEL_STORE_URI", "ftp://nope")
    with pytest.raises(ConfigError, match="MODEL_STORE_URI"):
        load_settings()


def test_docs_page_uses_the_vendored_viewer(demo):
    client = demo[0].test_client()
    page = client.get("/api/demo/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'src="/api/demo/docs/rapidoc-min.js"' in html and 'spec-url="/api/demo/openapi.json"' in html
    assert "https://" not in html and "http://" not in html  # no CDN
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    script = client.get("/api/demo/docs/rapidoc-min.js")
    assert script.status_code == 200 and len(script.data) > 100_000
    assert client.get("/api/demo/docs/../config.py").status_code == 404


def test_a_shared_dependency_failing_degrades_without_failing_readiness(file_store_uri, tmp_path):
    settings = make_settings(file_store_uri, tmp_path)
    problems = ["DynamoDB table t unusable: ReadTimeoutError"]
    app = create_service_app(demo_api(), json_loader, settings, start_model_refresh=False,
                             degraded_check=lambda: problems[0], on_ready_check=lambda: None)
    store = app.extensions["model_store"]
    publish(store, tmp_path, "v1", scale=2)
    assert app.extensions["model_holder"].refresh()
    resp = app.test_client().get("/api/demo/ready")
    assert resp.status_code == 200 and resp.json["status"] == "degraded" and resp.json["degraded"] == problems[0]
    problems[0] = None
    assert app.test_client().get("/api/demo/ready").json["status"] == "ready"


def test_access_line_fast_path_writes_the_json_formatter_shape(demo):
    """In production the root logger has only the JSON handler: the access line skips LogRecord but
    must read exactly like the formatter's lines (pytest's own handlers force the logging path)."""
    import io
    import logging

    from services.common.logs import JsonFormatter

    root = logging.getLogger()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    saved = root.handlers[:]
    root.handlers[:] = [handler]
    try:
        client = demo[0].test_client()
        client.get("/api/demo/health", headers={"X-Request-ID": 'id "quoted"'})
        client.get("/api/demo/nowhere\u00e9")
        logging.getLogger("services.model").info("other line", extra={"k": 1})
    finally:
        root.handlers[:] = saved
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [set(line) for line in lines[:2]] == [{"ts", "level", "logger", "message", "request_id", "method", "path",
                                                  "status", "ms"}] * 2
    assert lines[0]["request_id"] == 'id "quoted"' and lines[0]["status"] == 200 and lines[0]["level"] == "INFO"
    assert lines[1]["path"] == "/api/demo/nowhere\u00e9" and lines[1]["status"] == 404
    assert len(lines[1]["request_id"]) == 32 and lines[0]["ts"].endswith("Z") and len(lines[0]["ts"]) == 24
    assert lines[2]["message"] == "other line" and lines[2]["k"] == 1
