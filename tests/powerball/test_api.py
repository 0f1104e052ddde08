"""The powerball HTTP API: tickets, statistics, draws, errors, and the gateway."""
from __future__ import annotations

import csv
import subprocess
import sys
from collections import Counter
from datetime import date, datetime

import numpy as np
import pytest
from scipy import stats

from services.powerball.probability import TicketSampler
from tests.powerball.conftest import CSV, ROOT

PREDICT = "/api/powerball/predict"


def assert_valid(ticket: dict) -> None:
    white = ticket["white_balls"]
    assert set(ticket) == {"white_balls", "powerball"}
    assert len(white) == 5 and len(set(white)) == 5 and white == sorted(white)
    assert all(isinstance(n, int) and 1 <= n <= 69 for n in white)
    assert isinstance(ticket["powerball"], int) and 1 <= ticket["powerball"] <= 26


def current_era_rows():
    rows = []
    with open(CSV, newline="") as handle:
        for row in csv.DictReader(handle):
            day = datetime.strptime(row["Draw Date"], "%m/%d/%Y").date()
            numbers = [int(n) for n in row["Winning Numbers"].split()]
            rows.append((day, sorted(numbers[:5]), numbers[5]))
    rows.sort()
    return [r for r in rows if r[0] >= date(2015, 10, 7)], rows


# -- predict ----------------------------------------------------------------
def test_predict_get_default_is_one_valid_ticket(client, powerball_manifest):
    resp = client.get(PREDICT)
    assert resp.status_code == 200
    body = resp.json
    assert set(body) == {"tickets", "method", "evaluation", "edge_detected", "seed", "model_version"}
    assert len(body["tickets"]) == 1
    assert_valid(body["tickets"][0])
    assert body["model_version"] == powerball_manifest["version"]
    assert body["evaluation"] == powerball_manifest["metrics"]["statement"]
    assert body["edge_detected"] == powerball_manifest["metrics"]["significance"]["edge_detected"]
    assert "XGBoost per ball position" in body["method"]


def test_same_seed_same_tickets_get_and_post(client):
    got = client.get(PREDICT, query_string={"count": 10, "seed": 1234}).json
    again = client.get(PREDICT, query_string={"count": 10, "seed": 1234}).json
    posted = client.post(PREDICT, json={"count": 10, "seed": 1234}).json
    assert got["tickets"] == again["tickets"] == posted["tickets"]
    assert got["seed"] == 1234 and len(got["tickets"]) == 10
    other = client.get(PREDICT, query_string={"count": 10, "seed": 1235}).json
    assert other["tickets"] != got["tickets"]


def test_omitted_seed_is_returned_and_replays(client):
    first = client.post(PREDICT, json={"count": 3}).json
    replay = client.post(PREDICT, json={"count": 3, "seed": first["seed"]}).json
    assert replay["tickets"] == first["tickets"]
    assert client.post(PREDICT, json={}).status_code == 200


def test_thousands_of_tickets_from_the_service_are_valid(client):
    seen_white, seen_power = Counter(), Counter()
    for i in range(400):
        resp = client.get(PREDICT, query_string={"count": 10}) if i % 2 else \
            client.post(PREDICT, json={"count": 10, "seed": i})
        assert resp.status_code == 200
        for ticket in resp.json["tickets"]:
            assert_valid(ticket)
            seen_white.update(ticket["white_balls"])
            seen_power[ticket["powerball"]] += 1
    assert sum(seen_power.values()) == 4000
    assert set(seen_white) == set(range(1, 70)) and set(seen_power) == set(range(1, 27))


def test_the_models_probabilities_drive_the_tickets(powerball_app, loaded_model, monkeypatch):
    """The served sampler is built from the model's probabilities: swap them, the tickets follow."""
    assert np.allclose(loaded_model.sampler.white_p, loaded_model.white_weights / 5)
    assert np.allclose(loaded_model.sampler.powerball_p, loaded_model.powerball_probs)
    weights = np.full(69, 1e-9)
    weights[[4, 14, 24, 34, 44, 54]] = 1.0
    power = np.zeros(26)
    power[20] = 1.0
    monkeypatch.setattr(loaded_model, "sampler", TicketSampler(weights, power))
    tickets = powerball_app.test_client().get(PREDICT, query_string={"count": 10, "seed": 5}).json["tickets"]
    for ticket in tickets:
        assert set(ticket["white_balls"]) <= {5, 15, 25, 35, 45, 55} and ticket["powerball"] == 21


def test_served_probabilities_are_training_probabilities(loaded_model, powerball_artifact):
    import json

    spec = json.loads((powerball_artifact / "model.json").read_text())
    np.testing.assert_allclose(loaded_model.white_weights, spec["next_draw"]["white_weights"], atol=1e-5)
    np.testing.assert_allclose(loaded_model.powerball_probs, spec["next_draw"]["powerball_probs"], atol=1e-5)


# -- stats and draws ----------------------------------------------------------
def test_stats_recomputed_from_the_csv(client):
    body = client.get("/api/powerball/stats").json
    era_rows, _ = current_era_rows()
    assert body["era"]["name"] == "5/69 + 1/26" and body["draws"] == len(era_rows) == 1252
    assert [e["name"] for e in body["eras"]] == ["5/59 + 1/39", "5/59 + 1/35", "5/69 + 1/26"]
    white_counts = Counter(n for _, white, _ in era_rows for n in white)
    power_counts = Counter(p for _, _, p in era_rows)
    assert [f["count"] for f in body["white_balls"]["frequencies"]] == [white_counts[n] for n in range(1, 70)]
    assert [f["count"] for f in body["powerball"]["frequencies"]] == [power_counts[n] for n in range(1, 27)]

    # chi-square: scipy's Pearson test; white balls rescaled by (N-1)/(N-5) for draws without replacement
    white = np.array([white_counts[n] for n in range(1, 70)])
    pearson = stats.chisquare(white).statistic
    uni = body["white_balls"]["uniformity"]
    assert uni["pearson_statistic"] == pytest.approx(pearson)
    assert uni["df"] == 68
    assert uni["p_value"] == pytest.approx(stats.chi2.sf(pearson * 68 / 64, 68))
    power = np.array([power_counts[n] for n in range(1, 27)])
    assert body["powerball"]["uniformity"]["p_value"] == pytest.approx(stats.chisquare(power).pvalue)

    # hot and cold over the default window of 50 draws
    assert body["window"] == 50
    recent = Counter(n for _, white, _ in era_rows[-50:] for n in white)
    hot = sorted(range(1, 70), key=lambda n: (-recent[n], n))[:5]
    cold = sorted(range(1, 70), key=lambda n: (recent[n], n))[:5]
    assert [h["number"] for h in body["white_balls"]["hot"]] == hot
    assert [c["number"] for c in body["white_balls"]["cold"]] == cold
    assert [h["count"] for h in body["white_balls"]["hot"]] == [recent[n] for n in hot]
    assert body["white_balls"]["window_expected_per_number"] == pytest.approx(50 * 5 / 69)
    assert "independent" in body["note"]


def test_white_ball_uniformity_correction_has_the_right_null(loaded_model):
    """Simulated fair 5/69 eras: the corrected statistic averages df = 68 (the uncorrected one 64)."""
    from services.powerball.stats import uniformity_test

    rng = np.random.default_rng(8)
    values, raw = [], []
    for _ in range(400):
        draws = np.argsort(rng.random((1252, 69)), axis=1)[:, :5]
        result = uniformity_test(np.bincount(draws.ravel(), minlength=69), 5)
        values.append(result["statistic"])
        raw.append(result["pearson_statistic"])
    assert np.mean(values) == pytest.approx(68, abs=1.5)
    assert np.mean(raw) == pytest.approx(64, abs=1.5)


def test_stats_window(client):
    body = client.get("/api/powerball/stats", query_string={"window": 10}).json
    assert body["window"] == 10
    assert sum(h["count"] for h in body["powerball"]["hot"]) <= 10


def test_draws_newest_first(client):
    _, rows = current_era_rows()
    body = client.get("/api/powerball/draws", query_string={"limit": 3}).json
    assert body["total_draws"] == 1843
    assert [(d["date"], d["white_balls"], d["powerball"]) for d in body["draws"]] == \
        [(r[0].isoformat(), r[1], r[2]) for r in rows[::-1][:3]]
    assert body["draws"][0]["era"] == "5/69 + 1/26" and "multiplier" in body["draws"][0]
    assert len(client.get("/api/powerball/draws").json["draws"]) == 10
    assert len(client.get("/api/powerball/draws", query_string={"limit": 500}).json["draws"]) == 500


# -- errors -----------------------------------------------------------------
@pytest.mark.parametrize("method,path,kwargs,field", [
    ("get", PREDICT, {"query_string": {"count": 0}}, "count"),
    ("get", PREDICT, {"query_string": {"count": 11}}, "count"),
    ("get", PREDICT, {"query_string": {"count": "three"}}, "count"),
    ("get", PREDICT, {"query_string": {"count": ""}}, "count"),
    ("get", PREDICT, {"query_string": {"seed": -1}}, "seed"),
    ("get", PREDICT, {"query_string": {"seed": 2**32}}, "seed"),
    ("get", PREDICT, {"query_string": {"seed": "abc"}}, "seed"),
    ("get", PREDICT, {"query_string": {"tickets": 2}}, "tickets"),
    ("post", PREDICT, {"json": {"count": 0}}, "count"),
    ("post", PREDICT, {"json": {"count": 11}}, "count"),
    ("post", PREDICT, {"json": {"count": "3"}}, "count"),
    ("post", PREDICT, {"json": {"count": 2.5}}, "count"),
    ("post", PREDICT, {"json": {"count": True}}, "count"),
    ("post", PREDICT, {"json": {"seed": -5}}, "seed"),
    ("post", PREDICT, {"json": {"seed": "7"}}, "seed"),
    ("post", PREDICT, {"json": {"seed": 2**40}}, "seed"),
    ("post", PREDICT, {"json": {"count": 1, "extra": 1}}, "extra"),
    ("post", PREDICT, {"json": {"count": 1}, "query_string": {"count": 2}}, "count"),
    ("get", "/api/powerball/draws", {"query_string": {"limit": 0}}, "limit"),
    ("get", "/api/powerball/draws", {"query_string": {"limit": 501}}, "limit"),
    ("get", "/api/powerball/draws", {"query_string": {"limit": "ten"}}, "limit"),
    ("get", "/api/powerball/stats", {"query_string": {"window": 5}}, "window"),
    ("get", "/api/powerball/stats", {"query_string": {"window": 501}}, "window"),
])
def test_bad_input_is_a_400_naming_the_field(client, method, path, kwargs, field):
    resp = getattr(client, method)(path, **kwargs)
    assert resp.status_code == 400, resp.json
    error = resp.json["error"]
    assert error["code"] == "invalid_request"
    assert field in [d["field"] for d in error["details"]]
    assert field in error["message"]


def test_post_needs_json(client):
    assert client.post(PREDICT, data="count=3", content_type="text/plain").status_code == 415
    resp = client.post(PREDICT, data="{not json", content_type="application/json")
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_json"
    assert client.delete(PREDICT).status_code == 405


def test_platform_routes_and_openapi(client, powerball_manifest):
    assert client.get("/api/powerball/health").status_code == 200
    ready = client.get("/api/powerball/ready").json
    assert ready["status"] == "ready" and ready["model_version"] == powerball_manifest["version"]
    model = client.get("/api/powerball/model").json
    assert model["metrics"]["summary"] == powerball_manifest["metrics"]["summary"]
    assert model["metrics"]["summary"]["baseline"] in model["metrics"]["choice"]["baselines"]
    paths = client.get("/api/powerball/openapi.json").json["paths"]
    assert set(paths["/api/powerball/predict"]) == {"get", "post"}
    assert {p["name"] for p in paths["/api/powerball/predict"]["get"]["parameters"]} == {"count", "seed"}
    assert "requestBody" in paths["/api/powerball/predict"]["post"]
    assert {"/api/powerball/stats", "/api/powerball/draws"} <= set(paths)


def test_no_model_is_a_503(tmp_path):
    from services.powerball.api import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings((tmp_path / "empty").as_uri(), tmp_path), start_model_refresh=False)
    resp = app.test_client().get(PREDICT)
    assert resp.status_code == 503 and resp.json["error"]["code"] == "model_unavailable"


def test_gateway_serves_powerball(powerball_trained):
    from werkzeug.test import Client

    from services.gateway import built_services, create_app
    from tests.conftest import make_settings

    assert "powerball" in built_services()
    settings = make_settings(powerball_trained["store_uri"], powerball_trained["root"] / "gw")
    gateway = create_app(settings, services=["powerball"], start_model_refresh=False)
    assert gateway.service_apps["powerball"].extensions["model_holder"].refresh()
    resp = Client(gateway).get(PREDICT + "?count=2&seed=3")
    assert resp.status_code == 200 and len(resp.json["tickets"]) == 2


def test_serving_imports_no_training_library():
    code = ("import sys, services.powerball.api, services.powerball.model; "
            "bad = [m for m in ('xgboost', 'sklearn', 'lightgbm', 'onnxmltools', 'pandas', 'tqdm', "
            "'services.powerball.train') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
