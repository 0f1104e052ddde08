"""History beside the answers, in headless Chromium: every chart's data read back from Chart.js and compared
with what the API returned for the same request (powerball draws, demand's actual weeks, forecast's comparable
matches; sales' history is checked in test_sales_view.py), and the forecast's capacity marker at its value."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import require_service, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def datasets(page, selector: str) -> dict[str, list]:
    return page.evaluate("""sel => Object.fromEntries(Chart.getChart(document.querySelector(sel)).data.datasets
                                    .map(d => [d.label, d.data]))""", selector)


def test_powerball_latest_draws_chart_and_list_are_the_apis_draws(page, gateway):
    require_service(gateway, "powerball")
    page.goto("/#powerball")
    draws = page.request.get("/api/powerball/draws?limit=20").json()
    expect(page.locator("#pb-draws [data-draw]").first).to_be_visible()
    data = datasets(page, "#pb-draws-chart")
    oldest_first = list(reversed(draws["draws"]))
    assert data["White balls"] == [{"x": d["date"], "y": b} for d in oldest_first for b in d["white_balls"]]
    assert data["Powerball"] == [{"x": d["date"], "y": d["powerball"]} for d in oldest_first]
    rows = page.locator("#pb-draws [data-draw]")
    expect(rows).to_have_count(10)
    for i, d in enumerate(draws["draws"][:10]):
        expect(rows.nth(i)).to_have_attribute("data-draw", d["date"])
        assert [int(x) for x in rows.nth(i).locator("[data-white]").all_inner_texts()] == d["white_balls"]
        assert int(rows.nth(i).locator("[data-power]").inner_text()) == d["powerball"]
    expect(page.locator("#pb-draws [data-draws-summary]")).to_contain_text(f"{draws['total_draws']:,} draws")
    # another count asks again
    page.fill("#pb-limit", "5")
    page.get_by_role("button", name="Show draws").click()
    expect(page.locator("#pb-draws [data-draws-summary]")).to_contain_text("The latest 5 of")
    five = page.request.get("/api/powerball/draws?limit=5").json()["draws"]
    assert datasets(page, "#pb-draws-chart")["Powerball"] == [{"x": d["date"], "y": d["powerball"]} for d in reversed(five)]


def test_demand_actual_weeks_beside_the_predictions(page, gateway):
    require_service(gateway, "demand")
    page.goto("/#demand")
    expect(page.locator("#dm-product option").first).to_be_attached()
    catalog = page.request.get("/api/demand/catalog").json()
    # the pair with most weeks in the test window, so the held-out points are there to check
    pairs = [(s["store_id"], p["product_id"]) for s in catalog["stores"][:15] for p in catalog["products"]]
    best = max(pairs, key=lambda sp: len(page.request.get(
        f"/api/demand/history?store_id={sp[0]}&product_id={sp[1]}").json()["test"]["points"]))
    store, product = best
    page.select_option("#dm-store", store)
    page.select_option("#dm-product", product)
    history = page.request.get(f"/api/demand/history?store_id={store}&product_id={product}").json()
    assert history["weeks"] and history["test"]["points"]
    summary = page.locator("#demand-history [data-history-summary]")
    expect(summary).to_contain_text(f"Store {store}, product {product}: {len(history['weeks'])} weeks")
    to_ms = "iso => Date.parse(iso + 'T00:00:00Z')"
    ms = {w["week_ending"]: page.evaluate(to_ms, w["week_ending"]) for w in history["weeks"]}
    data = datasets(page, "#demand-history-chart")
    assert data["Actual units"] == [{"x": ms[w["week_ending"]], "y": w["units"]} for w in history["weeks"]]
    t = history["test"]
    assert data[f"Held-out prediction: {t['model']}"] == [{"x": ms[p["week_ending"]], "y": p["model"]} for p in t["points"]]
    assert data[f"Held-out prediction: {t['baseline']} (baseline)"] == [
        {"x": ms[p["week_ending"]], "y": p["baseline"]} for p in t["points"]]
    assert data["Your prediction"] == []

    # a prediction joins the actual weeks
    page.get_by_role("button", name="Predict units").click()
    expect(page.locator("#demand-result [data-units]")).to_be_visible()
    predicted = page.request.post("/api/demand/predict", data={
        "date": catalog["last_week"], "store_id": store, "product_id": product,
        "price": float(page.locator("#dm-price").input_value()), "promotion": False}).json()
    page.wait_for_function("() => Chart.getChart(document.querySelector('#demand-history-chart'))"
                           ".data.datasets[3].data.length === 1")
    mine = datasets(page, "#demand-history-chart")["Your prediction"]
    assert mine == [{"x": page.evaluate(to_ms, predicted["week_ending"]), "y": pytest.approx(predicted["prediction"])}]

    # and the actual weeks (price, units) sit on the price curve
    page.get_by_role("button", name="Show price curve").click()
    expect(page.locator("#demand-curve [data-best]")).to_be_visible()
    curve = datasets(page, "#demand-chart")
    on = [w for w in history["weeks"] if w["display"] or w["feature"]]
    off = [w for w in history["weeks"] if not (w["display"] or w["feature"])]
    assert curve["Actual weeks, no promotion (any week)"] == [{"x": w["price"], "y": w["units"]} for w in off]
    assert curve["Actual weeks, on promotion (any week)"] == [{"x": w["price"], "y": w["units"]} for w in on]
    screenshot(page, "demand-history")


def test_forecast_beside_the_real_crowds_of_comparable_matches(page, gateway):
    require_service(gateway, "forecast")
    page.goto("/#forecast")
    expect(page.locator("#fc-stadium")).not_to_have_value("")
    stadium = page.locator("#fc-stadium").input_value()
    page.fill("#fc-team-a", "Morocco")
    page.fill("#fc-team-b", "Mali")
    page.get_by_role("button", name="Predict attendance").click()
    out = page.locator("#forecast-result")
    expect(out.locator("[data-attendance]")).to_be_visible()
    past = page.request.get("/api/forecast/matches", params={
        "stadium": stadium, "team_a": "Morocco", "team_b": "Mali", "stage": "Semi-Finals", "limit": 20}).json()
    predicted = page.request.post("/api/forecast/predict", data={
        "team_a": "Morocco", "team_b": "Mali", "stadium": stadium, "time": "Night", "stage": "Semi-Finals"}).json()
    assert past["matches"], past
    shown = list(reversed(past["matches"][:12]))
    data = datasets(page, "#forecast-history-chart")
    real = [a if a is not None else b for a, b in zip(data["Real attendance at this stadium"],
                                                     data["Real attendance elsewhere (the teams, the stage)"])]
    assert real[:-1] == [m["attendance"] for m in shown] and real[-1] is None
    assert data["Real attendance at this stadium"][:-1] == [m["attendance"] if "stadium" in m["why"] else None for m in shown]
    assert data["Capacity"] == [m["capacity"] for m in shown] + [predicted["stadium_capacity"]]
    assert data["Expected attendance (this forecast)"][-1] == predicted["predicted_attendance"]
    assert data["90% interval"][-1] == predicted["confidence_interval"]
    labels = page.evaluate("Chart.getChart(document.querySelector('#forecast-history-chart')).data.labels")
    assert labels[:-1] == [f"{m['day']} {m['team_a']} v {m['team_b']}" for m in shown]
    expect(out.locator("[data-history-summary]")).to_contain_text(f"{past['total']} comparable")
    expect(out.locator(".data-table tbody tr")).to_have_count(len(past["matches"]))
    screenshot(page, "forecast-history")


def test_forecast_capacity_is_a_marker_at_its_value(page, gateway):
    require_service(gateway, "forecast")
    page.goto("/#forecast")
    expect(page.locator("#fc-stadium")).not_to_have_value("")
    page.get_by_role("button", name="Predict attendance").click()
    expect(page.locator("#forecast-result [data-capacity]")).to_be_visible()
    capacity = int(page.locator("#forecast-result [data-capacity]").inner_text().replace(",", ""))
    marker = page.evaluate("""() => { const c = Chart.getChart(document.querySelector('#forecast-chart'));
        const i = c.data.datasets.findIndex(d => d.label === 'Capacity');
        const el = c.getDatasetMeta(i).data[0];
        return {value: c.data.datasets[i].data[0], x: el.x, at: c.scales.x.getPixelForValue(c.data.datasets[i].data[0]),
                rotation: el.options.rotation, style: el.options.pointStyle, radius: el.options.radius,
                step: c.scales.x.getPixelForValue(1000) - c.scales.x.getPixelForValue(0)}; }""")
    assert marker["value"] == capacity
    assert marker["x"] == pytest.approx(marker["at"], abs=0.5)
    # a vertical tick: a line turned 90 degrees spans no range of the attendance axis
    assert (marker["style"], marker["rotation"]) == ("line", 90)
