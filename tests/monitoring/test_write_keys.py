"""Write routes need the service's key; reads stay open (services/common/auth.py), on every real app."""
from __future__ import annotations

import hmac
from datetime import datetime, timezone

import pytest

from services.common import auth
from services.common.config import ConfigError

SERVICES = ["flow", "forecast", "sales", "demand", "powerball"]
OLD = {s: f"{s}_old_{'o' * 30}" for s in SERVICES}
NEW = {s: f"{s}_new_{'n' * 30}" for s in SERVICES}


def write_route(service: str) -> str:
    return "/api/flow/ingest" if service == "flow" else f"/api/{service}/actuals"


def read_routes(service: str) -> list[str]:
    return [f"/api/{service}/{p}" for p in ("health", "ready", "model", "openapi.json", "docs", "monitoring")]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def keyed_app(service_app, monkeypatch):
    """app_for(name, keys): the real app whose write key list is `keys` (API_KEYS, as ECS injects it)."""
    def app_for(name: str, keys: str):
        monkeypatch.setenv("API_KEYS", keys)
        return service_app(name)
    return app_for


@pytest.mark.parametrize("monitoring_env", ["sqlite"], indirect=True)
@pytest.mark.parametrize("service", SERVICES)
def test_every_write_route_refuses_a_missing_wrong_or_foreign_key(keyed_app, service):
    client = keyed_app(service, OLD[service]).test_client()
    route = write_route(service)
    missing = client.post(route, json={})
    assert missing.status_code == 401, missing.json
    assert missing.json["error"]["code"] == "unauthorized"
    assert missing.json["error"]["details"][0]["field"] == "Authorization"
    assert missing.headers["WWW-Authenticate"] == f'Bearer realm="{service}"'

    wrong = client.post(route, headers=bearer(f"{service}_not_the_key_{'x' * 30}"), json={})
    assert wrong.status_code == 401 and wrong.json["error"]["code"] == "unauthorized"
    wrong_header = client.post(route, headers={"X-Api-Key": "nope" * 8}, json={})
    assert wrong_header.status_code == 401

    other = next(s for s in SERVICES if s != service)
    foreign = client.post(route, headers=bearer(OLD[other]), json={})
    assert foreign.status_code == 403, foreign.json
    assert foreign.json["error"]["message"] == f"a {other} key cannot write {service}"

    # the right key gets past the check: the body is validated next (an empty body is a 400 naming a field)
    for headers in (bearer(OLD[service]), {"X-Api-Key": OLD[service]}):
        past = client.post(route, headers=headers, json={})
        assert past.status_code == 400, past.json
        assert past.json["error"]["details"][0]["field"]


@pytest.mark.parametrize("monitoring_env", ["sqlite"], indirect=True)
@pytest.mark.parametrize("service", ["flow", "sales"])
def test_reads_stay_open_without_a_key(keyed_app, service):
    client = keyed_app(service, OLD[service]).test_client()
    for route in read_routes(service):
        resp = client.get(route)
        assert resp.status_code == 200, (route, resp.status_code)


@pytest.mark.parametrize("monitoring_env", ["sqlite"], indirect=True)
def test_a_rotated_key_and_the_old_one_are_valid_together_then_the_old_one_is_gone(keyed_app):
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0).isoformat().replace("+00:00", "Z")
    reading = {"stadiumId": "RABAT", "gateId": "G1", "ts": now, "perMinuteCount": 20, "avgProcessingTime": 3.0,
               "queueLength": 10}
    both = keyed_app("flow", f"{OLD['flow']},{NEW['flow']}").test_client()
    assert both.post("/api/flow/ingest", headers=bearer(OLD["flow"]), json=reading).status_code == 202
    assert both.post("/api/flow/ingest", headers=bearer(NEW["flow"]), json=reading).json == {
        "accepted": 0, "duplicates": 1}
    after = keyed_app("flow", NEW["flow"]).test_client()
    assert after.post("/api/flow/ingest", headers=bearer(OLD["flow"]), json=reading).status_code == 401
    assert after.post("/api/flow/ingest", headers=bearer(NEW["flow"]), json=reading).status_code == 202


@pytest.mark.parametrize("monitoring_env", ["sqlite"], indirect=True)
def test_every_configured_key_is_compared_in_constant_time(keyed_app, monkeypatch):
    client = keyed_app("sales", f"{OLD['sales']},{NEW['sales']}").test_client()
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    assert client.post("/api/sales/actuals", headers=bearer(OLD["sales"]), json={}).status_code == 400
    # both keys compared even though the first matched: no early exit that times which key it was
    assert [b for _, b in calls] == [OLD["sales"].encode(), NEW["sales"].encode()]


@pytest.mark.parametrize("monitoring_env", ["sqlite"], indirect=True)
def test_no_key_configured_refuses_writes_with_503_and_keeps_reads(service_app, monkeypatch, tmp_path):
    monkeypatch.delenv("API_KEYS", raising=False)
    monkeypatch.setenv("API_KEYS_DIR", str(tmp_path / "empty"))
    client = service_app("sales").test_client()
    resp = client.post("/api/sales/actuals", headers=bearer(OLD["sales"]), json={})
    assert resp.status_code == 503 and resp.json["error"]["code"] == "writes_not_configured"
    assert client.get("/api/sales/model").status_code == 200


@pytest.mark.parametrize("monitoring_env", ["sqlite"], indirect=True)
def test_auth_disabled_is_for_local_development_only(service_app, monkeypatch):
    monkeypatch.setenv("AUTH_DISABLED", "1")
    client = service_app("sales").test_client()
    assert client.post("/api/sales/actuals", json={}).status_code == 400      # no key asked for
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", "http://169.254.170.2/v4/task")
    with pytest.raises(ConfigError, match="AUTH_DISABLED: refused on ECS"):
        service_app("sales")


def test_short_keys_are_refused_at_start(monkeypatch):
    monkeypatch.setenv("API_KEYS", "sales_short")
    with pytest.raises(ConfigError, match="at least 24 characters"):
        auth.WriteKeys.from_environment("sales")


def test_key_files_are_private_and_kept(tmp_path):
    written = auth.ensure_keys(tmp_path, ["sales", "flow"])
    assert [p.name for p in written] == ["sales.keys", "flow.keys"]
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in written)
    key = auth.read_key(tmp_path, "sales")
    assert key.startswith("sales_") and len(key) > 40
    assert auth.ensure_keys(tmp_path, ["sales", "flow"]) == [] and auth.read_key(tmp_path, "sales") == key


@pytest.mark.parametrize("monitoring_env", ["sqlite"], indirect=True)
def test_openapi_marks_the_write_routes_and_only_them(keyed_app):
    doc = keyed_app("flow", OLD["flow"]).test_client().get("/api/flow/openapi.json").json
    secured = {(path, method) for path, ops in doc["paths"].items() for method, op in ops.items() if "security" in op}
    assert secured == {("/api/flow/ingest", "post")}
    assert set(doc["paths"]["/api/flow/ingest"]["post"]["responses"]) >= {"401", "403", "503"}
    assert doc["components"]["securitySchemes"]["bearerKey"]["scheme"] == "bearer"
