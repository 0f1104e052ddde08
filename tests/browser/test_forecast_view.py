"""The forecast view in headless Chromium against the gateway with a small trained forecast model."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import require_service, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_forecast_match_attendance_interval_and_fill_rate(page, gateway):
    require_service(gateway, "forecast")
    page.goto("/#forecast")
    view = page.locator("#view-forecast")
    manifest = page.request.get("/api/forecast/model").json()
    expect(view.locator("[data-model-version]")).to_have_text(manifest["version"])
    expect(view.locator(".model-panel")).to_contain_text(manifest["metrics"]["summary"]["statement"])

    stadiums = page.request.get("/api/forecast/stadiums").json()["stadiums"]
    expect(page.locator("#fc-stadium")).not_to_have_value("")
    stadium = stadiums[0]["name"]
    page.fill("#fc-team-a", "Morocco")
    page.fill("#fc-team-b", "France")
    page.fill("#fc-stadium", stadium)
    page.fill("#fc-time", "Night")
    page.select_option("#fc-stage", "Semi-Finals")
    page.locator("#fc-time").press("Enter")
    out = page.locator("#forecast-result")
    expect(out.locator("[data-attendance]")).to_be_visible()

    expected = page.request.post("/api/forecast/predict", data={
        "team_a": "Morocco", "team_b": "France", "stadium": stadium, "time": "Night", "stage": "Semi-Finals"}).json()
    lo, hi = expected["confidence_interval"]
    expect(out.locator("[data-attendance]")).to_have_text(f"{expected['predicted_attendance']:,}")
    expect(out.locator("[data-interval]")).to_have_text(f"{lo:,} – {hi:,}")
    expect(out.locator("[data-capacity]")).to_have_text(f"{expected['stadium_capacity']:,}")
    expect(out.locator("[data-fill-rate]")).to_have_text(f"{expected['fill_rate'] * 100:.1f}%")
    band = page.evaluate("Chart.getChart(document.querySelector('#forecast-chart')).data.datasets[0].data[0]")
    assert band == [lo, hi]
    gauge = page.evaluate("Chart.getChart(document.querySelector('#forecast-gauge')).data.datasets[0].data")
    assert gauge[0] == pytest.approx(min(1, expected["fill_rate"]))
    screenshot(page, "forecast")


def test_forecast_unknown_stadium_and_bad_time_shown_by_their_fields(page, gateway):
    require_service(gateway, "forecast")
    page.goto("/#forecast")
    expect(page.locator("#fc-stadium")).not_to_have_value("")
    page.fill("#fc-stadium", "Nowhere Arena")
    page.fill("#fc-time", "25:99")
    page.get_by_role("button", name="Predict attendance").click()
    expect(page.locator("#fc-time-error")).to_contain_text("HH:MM")
    expect(page.locator("#fc-time")).to_have_attribute("aria-invalid", "true")
    page.fill("#fc-time", "Evening")
    page.get_by_role("button", name="Predict attendance").click()
    expect(page.locator("#fc-stadium-error")).not_to_be_empty()
    expect(page.locator("#fc-stadium")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#fc-time-error")).to_have_text("")
    screenshot(page, "forecast-error")


def test_forecast_states_the_verdict_per_competition(page, gateway):
    require_service(gateway, "forecast")
    page.goto("/#forecast")
    verdicts = page.request.get("/api/forecast/model").json()["metrics"]["verdicts"]
    assert set(verdicts) == {"afcon", "world_cup"}
    for competition, v in verdicts.items():
        block = page.locator(f"#forecast-verdicts [data-competition='{competition}']")
        expect(block.locator("[data-mae]")).to_have_text(f"{round(v['mae']):,}")
        expect(block.locator("[data-baseline-mae]")).to_have_text(f"{round(v['baseline_mae']):,}")
        expect(block.locator("[data-statement]")).to_have_text(v["statement"])
        beats = v["mae"] < v["baseline_mae"]
        expect(block).to_have_attribute("data-beats-strongest", str(beats).lower())
        expect(block.locator("h4")).to_contain_text("beats the strongest baseline" if beats else "does NOT beat")
        for baseline in v["baselines_mae"]:
            expect(block).to_contain_text(baseline)
    afcon = page.locator("#forecast-verdicts [data-competition='afcon']")
    expect(afcon.locator("[data-target]")).to_have_text("met" if verdicts["afcon"]["meets_target"] else "NOT met")
    screenshot(page, "forecast-verdicts")
