"""The request path of the kernel: typed bodies and queries, response checks, hostile input."""
from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from services.common.api import Api, QueryModel, RequestModel, current_model
from services.common.app import create_service_app
from services.common.fields import Flag, Money, Text, Timestamp, date_field
from services.common.manifest import build_manifest
from services.common.store import ModelStore
from tests.conftest import make_settings

Day = date_field(day_first=True, earliest=date(2000, 1, 1), latest=date(2030, 12, 31))


class Order(RequestModel):
    name: Text = Field(min_length=1, max_length=40)
    day: Day
    at: Timestamp
    urgent: Flag = 0
    count: int = Field(1, ge=1, le=10)


class Window(QueryModel):
    weeks: int = Field(4, ge=1, le=52)
    label: Text = "all"


class OrderOut(BaseModel):
    name: str
    weekday: int
    hour_utc: int
    urgent: int
    count: int
    price: Money
    model_version: str


class Seen(BaseModel):
    weeks: int
    label: str


def order_api(seen: list) -> Api:
    api = Api("orders")

    @api.route("/order", methods=("POST",), body=Order, response=OrderOut)
    def order(body: Order):
        seen.append(body)
        loaded = current_model()
        return OrderOut(name=body.name, weekday=body.day.weekday(), hour_utc=body.at.utctimetuple().tm_hour,
                        urgent=body.urgent, count=body.count, price=10 / 3 * body.count, model_version=loaded.version)

    @api.route("/window", query=Window, response=Seen, needs_model=False)
    def window(query: Window):
        seen.append(query)
        return {"weeks": query.weeks, "label": query.label}

    @api.route("/drift", response=Seen, needs_model=False)
    def drift():  # a view whose answer has drifted from its documented schema
        return {"weeks": "four", "label": "x", "undocumented": True}

    return api


def loader(directory: Path, manifest: dict) -> dict:
    return json.loads((directory / "model.json").read_text())


@pytest.fixture
def orders(file_store_uri, tmp_path):
    store = ModelStore(file_store_uri, tmp_path / "cache")
    folder = tmp_path / "build"
    folder.mkdir()
    (folder / "model.json").write_text("{}")
    build_manifest(folder, service="orders", version="v1", metrics={}, features=[], data_fingerprint="x",
                   libraries=[])
    store.publish("orders", folder)
    seen: list = []
    app = create_service_app(order_api(seen), loader, make_settings(file_store_uri, tmp_path,
                                                                    max_content_length=8192),
                             start_model_refresh=False)
    assert app.extensions["model_holder"].refresh()
    return app.test_client(), seen


GOOD = {"name": "Ada", "day": "15-06-2011", "at": "2011-06-15T18:30:00+02:00", "urgent": True}


def test_views_receive_typed_values_parsed_once(orders):
    client, seen = orders
    resp = client.post("/api/orders/order", json=GOOD)
    assert resp.status_code == 200, resp.json
    body = seen[-1]
    assert isinstance(body, Order) and body.day == date(2011, 6, 15)
    assert isinstance(body.at, datetime) and body.at.utcoffset().total_seconds() == 7200
    assert body.urgent == 1 and body.count == 1
    assert resp.json == {"name": "Ada", "weekday": 2, "hour_utc": 16, "urgent": 1, "count": 1, "price": 3.33,
                         "model_version": "v1"}
    assert client.post("/api/orders/order", json={**GOOD, "day": "2011-06-15", "urgent": 0}).json["urgent"] == 0
    assert client.get("/api/orders/window?weeks=8").json == {"weeks": 8, "label": "all"}
    assert isinstance(seen[-1], Window) and seen[-1].weeks == 8


@pytest.mark.parametrize("change,field,words", [
    ({"day": "31-02-2011"}, "day", "not a calendar day"),
    ({"day": "1999-12-31"}, "day", "between 2000-01-01 and 2030-12-31"),
    ({"day": "15/06/2011"}, "day", "YYYY-MM-DD or DD-MM-YYYY"),
    ({"day": 20110615}, "day", "YYYY-MM-DD"),
    ({"at": "2011-06-15T18:30:00"}, "at", "timezone"),
    ({"at": "soon"}, "at", "ISO 8601"),
    ({"urgent": 2}, "urgent", "0, 1, true or false"),
    ({"urgent": "true"}, "urgent", "0, 1, true or false"),
    ({"name": "Ada\x00Lovelace"}, "name", "control characters (found U+0000 at position 3)"),
    ({"name": "Ada\nINFO forged log line"}, "name", "U+000A"),
    ({"name": "Ada\u2028"}, "name", "U+2028"),
])
def test_typed_fields_name_what_they_accept(orders, change, field, words):
    client, seen = orders
    resp = client.post("/api/orders/order", json={**GOOD, **change})
    assert resp.status_code == 400
    details = resp.json["error"]["details"]
    assert [d["field"] for d in details] == [field] and words in details[0]["problem"], details
    assert not seen


def test_free_text_allows_printable_unicode(orders):
    client, _ = orders
    resp = client.post("/api/orders/order", json={**GOOD, "name": "Côte d'Ivoire 🇨🇮"})
    assert resp.status_code == 200 and resp.json["name"] == "Côte d'Ivoire 🇨🇮"


def test_duplicate_keys_are_refused_naming_the_key(orders):
    client, seen = orders
    raw = '{"name": "Ada", "day": "15-06-2011", "at": "2011-06-15T18:30:00Z", "count": 1, "count": 9}'
    resp = client.post("/api/orders/order", data=raw, content_type="application/json")
    assert resp.status_code == 400 and resp.json["error"]["details"] == [
        {"field": "count", "problem": "duplicate key; send each key once"}]
    assert not seen


def test_a_5001_digit_integer_is_blamed_on_its_field(orders):
    client, seen = orders
    raw = json.dumps({**GOOD, "count": 0}).replace('"count": 0', '"count": ' + "9" * 5001)
    resp = client.post("/api/orders/order", data=raw, content_type="application/json")
    assert resp.status_code == 400
    details = resp.json["error"]["details"]
    assert [d["field"] for d in details] == ["count"] and "5001 digits" in details[0]["problem"]
    assert "set_int_max_str_digits" not in resp.get_data(as_text=True)
    assert not seen


def test_repeated_query_parameters_are_refused_naming_the_parameter(orders):
    client, seen = orders
    resp = client.get("/api/orders/window?weeks=4&weeks=8")
    assert resp.status_code == 400 and resp.json["error"]["details"] == [
        {"field": "weeks", "problem": "given 2 times; send it once"}]
    assert client.get("/api/orders/window?label=a%0Ab").json["error"]["details"][0]["field"] == "label"
    assert not seen


def test_413_and_415_name_what_is_accepted(orders):
    client, _ = orders
    too_big = client.post("/api/orders/order", data=json.dumps({**GOOD, "name": "x" * 9000}),
                          content_type="application/json")
    assert too_big.status_code == 413
    assert too_big.json["error"]["details"][0]["field"] == "body"
    assert "at most 8192 bytes" in too_big.json["error"]["details"][0]["problem"]
    form = client.post("/api/orders/order", data="name=Ada", content_type="application/x-www-form-urlencoded")
    assert form.status_code == 415
    assert form.json["error"]["details"] == [
        {"field": "Content-Type",
         "problem": "accepted: application/json (or a +json type); got application/x-www-form-urlencoded"}]


def test_a_response_off_its_schema_is_caught_when_checking(orders, file_store_uri, tmp_path):
    client, _ = orders  # the test suite runs with VALIDATE_RESPONSES=1
    resp = client.get("/api/orders/drift")
    assert resp.status_code == 500 and resp.json["error"]["code"] == "response_schema_mismatch"
    assert "weeks" in resp.json["error"]["message"] and "undocumented" in resp.json["error"]["message"]
    # In production (the default) the check costs nothing and the answer goes out as the view made it.
    app = create_service_app(order_api([]), loader, make_settings(file_store_uri, tmp_path / "prod",
                                                                  validate_responses=False),
                             start_model_refresh=False)
    assert app.test_client().get("/api/orders/drift").status_code == 200


def test_errors_are_checked_against_the_error_shape(orders):
    client, _ = orders
    for resp in (client.get("/api/orders/nowhere"), client.get("/api/orders/order"),
                 client.post("/api/orders/order", json={})):
        assert resp.status_code in (400, 404, 405)
        assert set(resp.json) == {"error"} and resp.json["error"]["message"]
