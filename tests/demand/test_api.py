"""The demand HTTP API over a real (--small) artifact: predict, price-curve, catalog, errors, warnings."""
from __future__ import annotations

import json

import numpy as np
import pytest

from services.demand import model as demand_model
from services.demand.features import FEATURE_NAMES

STORE, PRODUCT = 25027, "7192100337"
BODY = {"date": "2011-06-15", "store_id": STORE, "product_id": PRODUCT, "price": 4.99}


@pytest.fixture
def client(demand_app):
    return demand_app.test_client()


def post(client, path, **changes):
    body = {**BODY, **changes}
    body = {k: v for k, v in body.items() if v is not ...}
    return client.post(f"/api/demand/{path}", json=body)


def test_predict_with_the_seed_promotion_field(client):
    off = post(client, "predict", promotion=False)
    on = post(client, "predict", promotion=True)
    assert off.status_code == on.status_code == 200
    assert off.json["model_version"] and off.json["model"]
    assert (on.json["display"], on.json["feature"], on.json["tpr"]) == (1, 1, 0)
    # 4.99 is below the usual 6.59 and there is no display/feature: a TPR, as the data encodes it
    assert (off.json["display"], off.json["feature"], off.json["tpr"]) == (0, 0, 1)
    assert off.json["base_price"] == 6.59 and off.json["base_price_source"] == "usual price"
    assert off.json["week_ending"] == "2011-06-15"
    assert on.json["prediction"] > off.json["prediction"] > 0


def test_predict_with_detailed_flags_and_base_price(client):
    resp = post(client, "predict", display=1, feature=0, tpr=0, base_price=5.5, date="2011-06-10")
    assert resp.status_code == 200, resp.json
    assert resp.json["base_price"] == 5.5 and resp.json["base_price_source"] == "request"
    assert resp.json["week_ending"] == "2011-06-15"  # a Friday maps to the week ending the next Wednesday
    assert (resp.json["display"], resp.json["feature"], resp.json["tpr"]) == (1, 0, 0)
    same_as_string_ids = post(client, "predict", display=1, feature=0, tpr=0, base_price=5.5, date="2011-06-10",
                              store_id=str(STORE), product_id=int(PRODUCT))
    assert same_as_string_ids.json["prediction"] == resp.json["prediction"]


@pytest.mark.parametrize("field, value", [("store_id", 1), ("product_id", "1234567890")])
def test_unknown_store_or_product_points_to_the_catalog(client, field, value):
    resp = post(client, "predict", **{field: value})
    assert resp.status_code == 400
    detail = resp.json["error"]["details"][0]
    assert detail["field"] == field and "/api/demand/catalog" in detail["problem"]


@pytest.mark.parametrize("changes, field", [
    ({"price": 0}, "price"),
    ({"price": -1.0}, "price"),
    ({"price": "4.99"}, "price"),
    ({"price": ...}, "price"),
    ({"date": "15/06/2011"}, "date"),
    ({"date": "1990-01-01"}, "date"),
    ({"store_id": "abc"}, "store_id"),
    ({"display": 2}, "display"),
    ({"base_price": 0}, "base_price"),
    ({"colour": "red"}, "colour"),
    ({"promotion": True, "tpr": 1}, "promotion"),
])
def test_bad_input_is_a_400_naming_the_field(client, changes, field):
    resp = post(client, "predict", **changes)
    assert resp.status_code == 400, resp.json
    assert field in [d["field"] for d in resp.json["error"]["details"]]


def test_not_json_and_wrong_method(client):
    assert client.post("/api/demand/predict", data="x", content_type="text/plain").status_code == 415
    assert client.get("/api/demand/predict").status_code == 405


def test_price_curve_is_one_batch_and_finds_the_revenue_maximum(client, monkeypatch):
    calls = []
    original = demand_model.DemandModel._run

    def counting(self, x, store, product, cells, prices=None):
        calls.append(x.shape)
        return original(self, x, store, product, cells, prices)

    monkeypatch.setattr(demand_model.DemandModel, "_run", counting)
    resp = client.post("/api/demand/price-curve", json={"date": "2011-06-15", "store_id": STORE,
                                                        "product_id": PRODUCT, "price_min": 4.0,
                                                        "price_max": 8.0, "steps": 9})
    assert resp.status_code == 200, resp.json
    assert calls == [(18, len(FEATURE_NAMES))]  # 9 prices x (without, with promotion), one model call
    body = resp.json
    for key in ("without_promotion", "with_promotion"):
        curve = body[key]
        prices = [p["price"] for p in curve["points"]]
        assert prices[0] == 4.0 and prices[-1] == 8.0 and len(prices) == 9
        revenue = [p["revenue"] for p in curve["points"]]
        np.testing.assert_allclose(revenue, [p["price"] * p["units"] for p in curve["points"]])
        seen = [r if p["within_seen_prices"] else -1.0 for p, r in zip(curve["points"], revenue)]
        assert curve["best_revenue"] == max(seen) and curve["best_price"] == prices[int(np.argmax(seen))]
    assert body["with_promotion"]["display"] == 1 and body["without_promotion"]["display"] == 0
    # 4.0 and 8.0 lie outside the prices seen (4.44..7.49): those points are marked, and the API warns
    assert [p["within_seen_prices"] for p in body["without_promotion"]["points"]] == [4.44 <= p <= 7.49 for p in prices]
    assert any("outside the shelf prices seen" in w and "4.44..7.49" in w for w in body["warnings"])
    assert 4.44 <= body["without_promotion"]["best_price"] <= 7.49  # the maximum is searched among the prices seen


def test_prices_within_the_seen_range_give_no_warning(client):
    curve = client.post("/api/demand/price-curve", json={"date": "2011-06-15", "store_id": STORE,
                                                         "product_id": PRODUCT, "steps": 7}).json
    assert curve["warnings"] == []
    assert all(p["within_seen_prices"] for p in curve["with_promotion"]["points"])
    assert post(client, "predict", price=5.99).json["warnings"] == []


def test_predict_warns_outside_the_seen_prices_and_for_an_unseen_pair(client, demand_artifact):
    far = post(client, "predict", price=12.0)
    assert far.status_code == 200 and far.json["prediction"] >= 0
    assert len(far.json["warnings"]) == 1 and "the price 12 is outside" in far.json["warnings"][0]
    pairs = json.loads((demand_artifact / "demand.json").read_text())["encodings"]["pairs"]
    catalog = client.get("/api/demand/catalog").json
    unseen = next((s["store_id"], p["product_id"]) for s in catalog["stores"] for p in catalog["products"]
                  if f"{s['store_id']}|{p['product_id']}" not in pairs)
    resp = post(client, "predict", store_id=unseen[0], product_id=unseen[1], price=5.0)
    assert resp.status_code == 200 and any("no week of product" in w for w in resp.json["warnings"])


def test_every_price_curve_served_falls_with_price(client):
    """The price-curve endpoint for every store x product: both curves never rise with the price."""
    catalog = client.get("/api/demand/catalog").json
    rises = []
    for store in catalog["stores"]:
        for product in catalog["products"]:
            body = client.post("/api/demand/price-curve", json={
                "date": "2011-06-15", "store_id": store["store_id"], "product_id": product["product_id"],
                "price_min": round(product["min_price"] * 0.5, 2), "price_max": round(product["max_price"] * 1.5, 2),
                "steps": 31}).json
            for key in ("without_promotion", "with_promotion"):
                units = [p["units"] for p in body[key]["points"]]
                if np.any(np.diff(units) > 0):
                    rises.append((store["store_id"], product["product_id"], key))
    assert len(catalog["stores"]) * len(catalog["products"]) == 924
    assert rises == []


def test_price_curve_matches_predict(client):
    curve = client.post("/api/demand/price-curve", json={"date": "2011-06-15", "store_id": STORE,
                                                         "product_id": PRODUCT, "steps": 5}).json
    point = curve["without_promotion"]["points"][2]
    single = post(client, "predict", price=point["price"], promotion=False).json
    assert single["prediction"] == pytest.approx(point["units"], rel=1e-5)
    lo, hi = curve["observed_price_range"]
    assert curve["without_promotion"]["points"][0]["price"] == lo and curve["without_promotion"]["points"][-1][
        "price"] == hi


@pytest.mark.parametrize("body, field", [
    ({"price_min": 6.0, "price_max": 5.0}, "price_max"),
    ({"steps": 1}, "steps"),
    ({"steps": 5000}, "steps"),
    ({"product_id": "42"}, "product_id"),
])
def test_price_curve_bad_input(client, body, field):
    resp = client.post("/api/demand/price-curve", json={"date": "2011-06-15", "store_id": STORE,
                                                        "product_id": PRODUCT, **body})
    assert resp.status_code == 400 and field in [d["field"] for d in resp.json["error"]["details"]]


def test_catalog_lists_stores_and_products_with_usual_prices(client):
    body = client.get("/api/demand/catalog").json
    assert len(body["stores"]) == 77 and len(body["products"]) == 12
    product = {p["product_id"]: p for p in body["products"]}[PRODUCT]
    assert product["usual_price"] == 6.59 and product["manufacturer"] == "TOMBSTONE"
    assert product["min_price"] < product["usual_price"] <= product["max_price"]
    assert body["first_week"] == "2009-01-14" and body["last_week"] == "2011-08-10"


def test_platform_routes(client):
    assert client.get("/api/demand/ready").status_code == 200
    model = client.get("/api/demand/model").json
    assert set(model["metrics"]["test"]) >= {"store_product_mean", "promo_adjusted_mean", model["metrics"]["choice"]["chosen"]}
    paths = client.get("/api/demand/openapi.json").json["paths"]
    assert {"/api/demand/predict", "/api/demand/price-curve", "/api/demand/catalog"} <= set(paths)
    assert "promotion" in str(paths["/api/demand/predict"])
