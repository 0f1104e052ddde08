"""The sales view in headless Chromium against the gateway with a trained sales model."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def chart_data(page, selector: str) -> dict:
    return page.evaluate(
        """sel => { const c = Chart.getChart(document.querySelector(sel));
                    return c ? {labels: c.data.labels, datasets: c.data.datasets.map(d => ({label: d.label, data: d.data}))} : null; }""",
        selector)


def test_sales_history_forecast_and_model_panel(page, gateway):
    page.goto("/#sales")
    view = page.locator("#view-sales")
    expect(view).to_be_visible()
    expect(page.locator("#tab-sales")).to_have_attribute("aria-current", "page")

    # the model panel: version and the verdict against the baseline, as the manifest states it
    manifest = page.request.get("/api/sales/model").json()
    panel = view.locator(".model-panel")
    expect(panel.locator("[data-model-version]")).to_have_text(manifest["version"])
    expect(panel).to_contain_text(manifest["metrics"]["summary"]["statement"])
    verdict = "Beats the baseline" if manifest["metrics"]["summary"]["beats_baseline"] else "Does NOT beat the baseline"
    expect(panel.locator(".summary").first.locator(".badge")).to_have_text(verdict)

    # the served forecast model against the strongest baseline, and the targets, as the manifest says
    metrics = manifest["metrics"]
    served = view.locator("#sales-served")
    summary = metrics["summary"]
    expect(served.locator(".statement")).to_have_text(summary["statement"])
    expect(served.locator(".badge").first).to_have_text(
        "Beats the baseline" if summary["beats_baseline"] else "Does NOT beat the baseline")
    strongest = min((b for b in metrics["choice"]["baselines"] if b != summary["model"]),
                    key=lambda b: metrics["test"][b]["wmae"])
    assert summary["model"] == metrics["choice"]["chosen"] and summary["baseline"] == strongest
    expect(served.locator(".versus")).to_contain_text(f"model: {summary['model']}")
    expect(served.locator(".versus")).to_contain_text(f"baseline: {strongest}")
    expect(served.locator("[data-choice]")).to_have_text(metrics["choice"]["reason"])
    for name, target in metrics["targets"].items():
        row = served.locator(f'[data-target="{name}"]')
        if target["met"] is None:               # a target the windows cannot measure says so, with the reason
            expect(row.locator(".badge")).to_have_text("not measured")
            expect(row.locator("td").first).to_have_text(target["statement"])
            continue
        expect(row.locator(".badge")).to_have_text("met" if target["met"] else "NOT met")
        shown = row.locator("td").first.inner_text()
        if name.startswith("wmae_ratio"):       # the ratio to 3 decimals, then the target
            assert float(shown.split()[0]) == pytest.approx(target["value"], abs=5e-4), shown
        else:                                   # coverage in percent, 1 decimal
            assert float(shown.rstrip("%")) == pytest.approx(target["value"] * 100, abs=0.051), shown
    # test coverage per horizon band and per holiday week, beside the interval width
    for kind in ("band", "holiday_week"):
        for seg, cov in metrics["test_coverage"][kind]["segments"].items():
            shown = served.locator(f'[data-coverage="{kind}:{seg}"] td').first.inner_text()
            assert float(shown.rstrip("%")) == pytest.approx(cov["coverage"] * 100, abs=0.051), (kind, seg, shown)

    # the store picker lists the model's stores; the first one is charted on arrival
    expect(page.locator("#sales-store option")).to_have_count(2)
    expect(page.locator("#sales-forecast-summary")).to_contain_text("Store 1")

    # pick store 2, 26 weeks of history, 8 weeks ahead
    page.select_option("#sales-store", "2")
    page.fill("#sales-weeks", "26")
    page.fill("#sales-steps", "8")
    page.get_by_role("button", name="Show history and forecast").click()
    expect(page.locator("#sales-forecast-summary")).to_contain_text("Store 2: 26 weeks of history")
    expect(page.locator("#sales-forecast-summary")).to_contain_text("forecast of 8 weeks")

    history = page.request.get("/api/sales/history?store_id=2&weeks=26").json()["history"]
    forecast = page.request.post("/api/sales/forecast", data={"store_id": 2, "steps": 8}).json()["forecast"]
    data = chart_data(page, "#sales-chart")
    assert data is not None, "no chart drawn"
    assert data["labels"] == [p["Date"] for p in history] + [p["Date"] for p in forecast]
    by_label = {d["label"]: d["data"] for d in data["datasets"]}
    assert by_label["Actual weekly sales"][:26] == [p["Sales"] for p in history]
    chosen = manifest["metrics"]["choice"]["chosen"]
    assert by_label[f"Forecast ({chosen})"][-8:] == pytest.approx([p["Sales"] for p in forecast])
    expect(page.locator("[data-forecast-model]")).to_have_text(chosen)
    assert by_label["90% interval"][-8:] == pytest.approx([p["upper"] for p in forecast])
    assert by_label["90% interval (lower)"][-8:] == pytest.approx([p["lower"] for p in forecast])
    # the band really is a band: lower <= forecast <= upper
    assert all(p["lower"] <= p["Sales"] <= p["upper"] for p in forecast)
    screenshot(page, "sales")


def test_sales_forecast_error_is_shown_next_to_its_field(page, gateway):
    page.goto("/#sales")
    expect(page.locator("#sales-forecast-summary")).to_contain_text("Store 1")
    page.fill("#sales-steps", "14")
    page.locator("#sales-steps").press("Enter")  # keyboard submit
    error = page.locator("#sales-steps-error")
    expect(error).to_contain_text("less than or equal to 13")
    expect(page.locator("#sales-steps")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#sales-steps")).to_have_attribute("aria-describedby", re.compile("sales-steps-error"))
    # fixing it clears the error
    page.fill("#sales-steps", "4")
    page.get_by_role("button", name="Show history and forecast").click()
    expect(page.locator("#sales-forecast-summary")).to_contain_text("forecast of 4 weeks")
    expect(error).to_have_text("")
    expect(page.locator("#sales-steps")).not_to_have_attribute("aria-invalid", "true")


def test_sales_predict_one_week_by_keyboard_and_its_errors(page, gateway):
    page.goto("/#sales")
    expect(page.locator("#sp-store option")).to_have_count(2)
    # keyboard only: focus the date field, type, tab through to the Predict button, press Enter
    page.fill("#sp-date", "2012-08-01")
    page.locator("#sp-unemp").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Predict")).to_be_focused()
    page.keyboard.press("Enter")
    result = page.locator("#sales-predict-result")
    expect(result).to_contain_text("week ending 2012-08-03")
    expected = page.request.post("/api/sales/predict", data={
        "Store": 1, "Date": "2012-08-01", "Holiday_Flag": 0, "Temperature": 70.0, "Fuel_Price": 3.5,
        "CPI": 215.0, "Unemployment": 7.5}).json()
    shown = result.locator("[data-prediction]").inner_text()
    assert shown == f"${round(expected['prediction']):,}"
    lags = "ARIMA forecast" if expected["lags_from"] == "forecast" else "actual history"
    expect(result).to_contain_text(f"Lag features from the {lags}")

    # a date before 52 weeks of history and a temperature out of range: each error by its field
    page.fill("#sp-date", "2009-06-01")
    page.fill("#sp-temp", "900")
    page.get_by_role("button", name="Predict").click()
    expect(page.locator("#sp-temp-error")).to_contain_text("less than or equal to 140")
    expect(page.locator("#sp-temp")).to_have_attribute("aria-invalid", "true")
    page.fill("#sp-temp", "70")
    page.get_by_role("button", name="Predict").click()
    expect(page.locator("#sp-date-error")).to_contain_text("52 weeks of history")
    expect(page.locator("#sp-temp-error")).to_have_text("")
    screenshot(page, "sales-error")


def test_sales_loading_state_while_the_api_answers(page, gateway):
    """A slow API shows a loading state, then the answer."""
    held = []
    page.goto("/#sales")
    expect(page.locator("#sales-forecast-summary")).to_contain_text("Store 1")
    page.route("**/api/sales/forecast", lambda route: held.append(route))  # hold the request until the checks are done
    page.get_by_role("button", name="Show history and forecast").click()
    loading = page.locator("#sales-forecast-result .loading")
    expect(loading).to_be_visible()
    expect(loading).to_have_text("Loading…")
    expect(page.locator("#sales-forecast-result")).to_have_attribute("aria-busy", "true")
    expect(page.get_by_role("button", name="Show history and forecast")).to_be_disabled()
    assert len(held) == 1
    held[0].continue_()
    expect(loading).to_have_count(0, timeout=10_000)
    expect(page.locator("#sales-forecast-result")).to_have_attribute("aria-busy", "false")
