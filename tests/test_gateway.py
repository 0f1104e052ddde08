"""The local gateway routes /api/<service>/* to each service's app and serves the UI at /."""
from __future__ import annotations

import pytest

from services import gateway
from services.common.store import ModelStore
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def client(sales_artifact, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gateway")
    store_uri = (tmp / "store").as_uri()
    ModelStore(store_uri, tmp / "cache").publish("sales", sales_artifact)
    app = gateway.create_app(make_settings(store_uri, tmp), services=["sales"], start_model_refresh=False)
    app.service_apps["sales"].extensions["model_holder"].refresh()
    from werkzeug.test import Client

    return Client(app)


def test_routes_to_the_service(client):
    resp = client.get("/api/sales/ready")
    assert resp.status_code == 200 and resp.json["service"] == "sales"
    resp = client.post("/api/sales/forecast", json={"store_id": 1, "steps": 1})
    assert resp.status_code == 200 and len(resp.json["forecast"]) == 1


def test_serves_the_frontend_and_lists_services(client):
    index = client.get("/")
    assert index.status_code == 200 and b"<html" in index.data
    assert client.get("/config.js").status_code == 200
    assert client.get("/api/services").json == {"services": ["sales"]}


def test_favicon_is_served(client):
    resp = client.get("/favicon.ico")
    assert resp.status_code == 200 and resp.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert resp.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")


def test_every_request_is_logged_once_at_info(client, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="services.http"):
        client.get("/api/sales/health", headers={"X-Request-ID": "trace-me-1"})
        client.post("/api/sales/forecast", json={"store_id": 1, "steps": 1}, headers={"X-Request-ID": "trace-me-2"})
    lines = [r for r in caplog.records if r.name == "services.http" and r.getMessage() == "request"]
    assert [(r.levelname, r.method, r.path, r.status, r.request_id) for r in lines] == [
        ("INFO", "GET", "/api/sales/health", 200, "trace-me-1"),
        ("INFO", "POST", "/api/sales/forecast", 200, "trace-me-2")]
    assert all(isinstance(r.ms, float) and r.ms >= 0 for r in lines)


def test_unknown_paths_are_json_404(client):
    for path in ("/api/nothing/predict", "/no-such-page.html"):
        resp = client.get(path)
        assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"


def test_prefix_match_is_exact(client):
    assert client.get("/api/salesforce/ready").status_code == 404


def test_every_built_service_is_found_from_the_registry():
    built = gateway.built_services()
    assert "sales" in built
    assert set(built) <= {"flow", "forecast", "sales", "demand", "powerball"}
