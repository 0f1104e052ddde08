"""The 0/1 flags also take JSON booleans (the seed's `promotion` is a boolean; users send both)."""
from __future__ import annotations

import pytest

BODY = {"date": "2011-06-15", "store_id": 25027, "product_id": "7192100337", "price": 4.99, "base_price": 5.5}


@pytest.fixture
def client(demand_app):
    return demand_app.test_client()


@pytest.mark.parametrize("flags", [{"display": 1, "feature": 0, "tpr": 0}, {"display": 0, "feature": 1, "tpr": 1}])
def test_booleans_answer_as_their_0_1(client, flags):
    as_ints = client.post("/api/demand/predict", json={**BODY, **flags})
    as_bools = client.post("/api/demand/predict", json={**BODY, **{k: bool(v) for k, v in flags.items()}})
    assert as_ints.status_code == as_bools.status_code == 200, as_bools.json
    assert as_bools.json == as_ints.json
    assert (as_bools.json["display"], as_bools.json["feature"], as_bools.json["tpr"]) == tuple(flags.values())


@pytest.mark.parametrize("value", [2, -1, "true", "1", 1.0, [1]])
def test_other_values_are_refused_naming_what_is_accepted(client, value):
    resp = client.post("/api/demand/predict", json={**BODY, "display": value})
    assert resp.status_code == 400
    detail = resp.json["error"]["details"][0]
    assert detail["field"] == "display" and "0, 1, true or false" in detail["problem"]


def test_openapi_documents_both_forms(client):
    schema = client.get("/api/demand/openapi.json").json["components"]["schemas"]["PredictRequest"]
    kinds = schema["properties"]["display"]["anyOf"]
    assert {"type": "boolean"} in kinds and {"type": "integer", "enum": [0, 1]} in kinds
