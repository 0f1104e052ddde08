"""Every form in headless Chromium: a failed submit takes the previous answer off the screen, and every field
error shows at once (the page's own checks and the API's details together), each against the API's own words."""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from .conftest import require_service, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def api_problems(resp) -> dict[str, str]:
    assert resp.status == 400, resp.text()
    return {d["field"]: d["problem"] for d in resp.json()["error"]["details"]}


def no_chart(page, selector: str) -> bool:
    return page.evaluate("sel => { const c = document.querySelector(sel); return !c || !Chart.getChart(c); }", selector)


# ------------------------------------------------------------------ forecast

def test_forecast_error_clears_the_answer_and_shows_team_and_time_errors_together(page, gateway):
    require_service(gateway, "forecast")
    page.goto("/#forecast")
    expect(page.locator("#fc-stadium")).not_to_have_value("")
    page.get_by_role("button", name="Predict attendance").click()
    out = page.locator("#forecast-result")
    expect(out.locator("[data-attendance]")).to_be_visible()
    # editing an input marks the answer as belonging to the previous inputs
    page.fill("#fc-team-b", "Morocco")
    expect(out).to_have_attribute("data-stale", "true")
    expect(out.locator("[data-stale-note]")).to_have_text("This answer is for the previous inputs.")

    page.fill("#fc-time", "25:99")
    page.get_by_role("button", name="Predict attendance").click()
    expect(page.locator("#fc-team-b-error")).to_have_text("must differ from team A")
    stadium = page.locator("#fc-stadium").input_value()
    api = api_problems(page.request.post("/api/forecast/predict", data={
        "team_a": "Morocco", "team_b": "Morocco", "stadium": stadium, "time": "25:99", "stage": "Semi-Finals"}))
    assert set(api) == {"time"}, api       # the API alone names only the time: the teams wait behind it
    expect(page.locator("#fc-time-error")).to_have_text(api["time"])
    expect(page.locator("#fc-team-b")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#fc-time")).to_have_attribute("aria-invalid", "true")
    # the previous answer is gone, charts and all
    expect(out.locator("[data-attendance]")).to_have_count(0)
    expect(out.locator("[data-no-answer]")).to_be_visible()
    assert no_chart(page, "#forecast-chart") and no_chart(page, "#forecast-history-chart")
    screenshot(page, "forecast-errors-together")


def test_unknown_stadium_shows_a_short_message_with_a_few_suggestions(page, gateway):
    require_service(gateway, "forecast")
    page.goto("/#forecast")
    expect(page.locator("#fc-stadium")).not_to_have_value("")
    page.fill("#fc-stadium", "Stade Nulle Part")
    page.get_by_role("button", name="Predict attendance").click()
    body = {"team_a": "Morocco", "team_b": "France", "stadium": "Stade Nulle Part", "time": "Night", "stage": "Semi-Finals"}
    problem = api_problems(page.request.post("/api/forecast/predict", data=body))["stadium"]
    error = page.locator("#fc-stadium-error")
    expect(error).to_have_text(problem)
    suggested = problem.split("did you mean:")[1].split("?")[0].split(";")
    assert 1 <= len(suggested) <= 5
    names = [s["name"] for s in page.request.get("/api/forecast/stadiums").json()["stadiums"]]
    shown = error.inner_text()
    assert sum(name in shown for name in names) <= 5 < len(names)
    assert len(shown) < 400
    # the datalist offers every stadium as the operator types, without printing them
    assert page.locator("#fc-stadiums option").count() == len(names)


# ------------------------------------------------------------------ demand

def test_demand_price_range_and_steps_errors_together_and_the_curve_cleared(page, gateway):
    require_service(gateway, "demand")
    page.goto("/#demand")
    expect(page.locator("#dm-product option").first).to_be_attached()
    page.get_by_role("button", name="Show price curve").click()
    expect(page.locator("#demand-curve [data-best]")).to_be_visible()
    page.fill("#dm-min", "9")
    page.fill("#dm-max", "3")
    page.fill("#dm-steps", "1")
    page.get_by_role("button", name="Show price curve").click()
    expect(page.locator("#dm-max-error")).to_have_text("price_min (9) must be below price_max (3)")
    form = {k: page.locator(s).input_value() for k, s in (("date", "#dm-date"), ("store_id", "#dm-store"),
                                                           ("product_id", "#dm-product"))}
    api = api_problems(page.request.post("/api/demand/price-curve", data={**form, "price_min": 9, "price_max": 3,
                                                                          "steps": 1}))
    assert set(api) == {"steps"}, api
    expect(page.locator("#dm-steps-error")).to_have_text(api["steps"])
    expect(page.locator("#demand-curve [data-best]")).to_have_count(0)
    expect(page.locator("#demand-curve [data-no-answer]")).to_be_visible()
    assert no_chart(page, "#demand-chart")
    # corrected, the curve comes back and the errors go
    page.fill("#dm-min", "")
    page.fill("#dm-max", "")
    page.fill("#dm-steps", "11")
    page.get_by_role("button", name="Show price curve").click()
    expect(page.locator("#demand-curve [data-best]")).to_be_visible()
    expect(page.locator("#dm-max-error")).to_have_text("")
    expect(page.locator("#dm-steps-error")).to_have_text("")


def test_demand_prediction_cleared_by_a_failed_predict(page, gateway):
    require_service(gateway, "demand")
    page.goto("/#demand")
    expect(page.locator("#dm-product option").first).to_be_attached()
    page.get_by_role("button", name="Predict units").click()
    expect(page.locator("#demand-result [data-units]")).to_be_visible()
    page.fill("#dm-price", "-1")
    page.fill("#dm-date", "")
    page.get_by_role("button", name="Predict units").click()
    expect(page.locator("#dm-price-error")).not_to_be_empty()
    expect(page.locator("#dm-date-error")).not_to_be_empty()    # both at once
    expect(page.locator("#demand-result [data-units]")).to_have_count(0)
    expect(page.locator("#demand-result [data-no-answer]")).to_be_visible()


# ------------------------------------------------------------------ sales

def test_sales_weeks_to_forecast_99_shows_the_apis_message_beside_the_history_error(page, gateway):
    page.goto("/#sales")
    expect(page.locator("#sales-forecast-summary")).to_contain_text("Store 1")
    page.fill("#sales-steps", "99")
    page.fill("#sales-weeks", "0")
    page.get_by_role("button", name="Show history and forecast").click()
    steps = api_problems(page.request.post("/api/sales/forecast", data={"store_id": 1, "steps": 99}))["steps"]
    weeks = api_problems(page.request.get("/api/sales/history?store_id=1&weeks=0"))["weeks"]
    expect(page.locator("#sales-steps-error")).to_have_text(steps)
    expect(page.locator("#sales-weeks-error")).to_have_text(weeks)     # the other request's error, together
    expect(page.locator("#sales-forecast-summary")).to_have_count(0)   # the previous store's chart is gone
    expect(page.locator("#sales-forecast-result [data-no-answer]")).to_be_visible()
    assert no_chart(page, "#sales-chart")


def test_sales_predict_date_and_temperature_errors_together(page, gateway):
    page.goto("/#sales")
    expect(page.locator("#sp-store option").first).to_be_attached()
    page.get_by_role("button", name="Predict").click()
    expect(page.locator("#sales-predict-result [data-prediction]")).to_be_visible()
    page.fill("#sp-date", "2009-06-01")
    page.fill("#sp-temp", "900")
    page.get_by_role("button", name="Predict").click()
    body = {"Store": 1, "Date": "2009-06-01", "Holiday_Flag": 0, "Temperature": 900, "Fuel_Price": 3.5, "CPI": 215,
            "Unemployment": 7.5}
    schema = api_problems(page.request.post("/api/sales/predict", data=body))
    assert set(schema) == {"Temperature"}, schema
    expect(page.locator("#sp-temp-error")).to_have_text(schema["Temperature"])
    date = api_problems(page.request.post("/api/sales/predict", data={**body, "Temperature": 70}))["Date"]
    expect(page.locator("#sp-date-error")).to_have_text(date)   # the page's check words it as the API does
    expect(page.locator("#sales-predict-result [data-prediction]")).to_have_count(0)
    screenshot(page, "sales-errors-together")


# ------------------------------------------------------------------ powerball

def test_powerball_errors_together_and_the_tickets_cleared(page, gateway):
    require_service(gateway, "powerball")
    page.goto("/#powerball")
    page.get_by_role("button", name="Generate tickets").click()
    expect(page.locator("#pb-result [data-ticket]").first).to_be_visible()
    page.fill("#pb-count", "11")
    page.fill("#pb-seed", "-1")
    page.get_by_role("button", name="Generate tickets").click()
    api = api_problems(page.request.get("/api/powerball/predict?count=11&seed=-1"))
    expect(page.locator("#pb-count-error")).to_have_text(api["count"])
    expect(page.locator("#pb-seed-error")).to_have_text(api["seed"])
    expect(page.locator("#pb-result [data-ticket]")).to_have_count(0)
    # the draws and statistics answers are cleared by their own failed submits too
    expect(page.locator("#pb-draws [data-draw]").first).to_be_visible()
    page.fill("#pb-limit", "0")
    page.get_by_role("button", name="Show draws").click()
    expect(page.locator("#pb-limit-error")).to_have_text(api_problems(page.request.get("/api/powerball/draws?limit=0"))["limit"])
    expect(page.locator("#pb-draws [data-draw]")).to_have_count(0)
    assert no_chart(page, "#pb-draws-chart")


def test_an_api_error_without_a_field_shows_at_the_form(page, gateway):
    """The API's answer is replaced by the test (an emulated 503 without details, as a proxy would send)."""
    require_service(gateway, "powerball")
    page.goto("/#powerball")
    page.get_by_role("button", name="Generate tickets").click()
    expect(page.locator("#pb-result [data-ticket]").first).to_be_visible()
    page.route("**/api/powerball/predict?*", lambda route: route.fulfill(status=503, content_type="application/json", body=json.dumps(
        {"error": {"code": "model_unavailable", "message": "no model loaded: loading", "details": []}})))
    page.get_by_role("button", name="Generate tickets").click()
    box = page.locator("#pb-form [data-form-error]")
    expect(box).to_have_text("Error (HTTP 503): no model loaded: loading")
    expect(page.locator("#pb-form .field-error:not(:empty)")).to_have_count(0)
    expect(page.locator("#pb-result [data-ticket]")).to_have_count(0)


# ------------------------------------------------------------------ flow

def test_flow_error_for_another_stadium_clears_the_board(page, gateway):
    require_service(gateway, "flow")
    page.goto("/#flow")
    expect(page.locator("#flow-board [data-gate]").first).to_be_attached()
    page.evaluate("""() => { const s = document.querySelector('#flow-stadium');
        s.add(new Option('Gone', 'NO_SUCH_STADIUM')); s.value = 'NO_SUCH_STADIUM';
        s.dispatchEvent(new Event('change')); }""")
    expect(page.locator("#flow-stadium-error")).not_to_be_empty()
    expect(page.locator("#flow-board [data-gate]")).to_have_count(0)
    expect(page.locator("#flow-summary")).to_have_text("")
