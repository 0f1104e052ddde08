"""The live monitoring panel in headless Chromium: the shell puts it under every view; it shows the
/monitoring answer (verdict, live error beside the baseline over time as a chart, drift per feature)."""
from __future__ import annotations

import pandas as pd
import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT

from .conftest import require_service, screenshot
from tests.conftest import write_headers

pytestmark = [pytest.mark.browser, pytest.mark.slow]
DATA = ROOT / "data" / "walmart_sales" / "Walmart_Store_sales.csv"


def chart_data(page, selector: str) -> dict:
    return page.evaluate(
        """sel => { const c = Chart.getChart(document.querySelector(sel));
                    return c ? {labels: c.data.labels, datasets: c.data.datasets.map(d => ({label: d.label, data: d.data}))} : null; }""",
        selector)


def post_sales(page):
    frame = pd.read_csv(DATA)
    frame = frame[frame["Store"].isin([1, 2])]
    dates = pd.to_datetime(frame["Date"], format="%d-%m-%Y")
    late = frame[dates > dates.max() - pd.Timedelta(weeks=20)]
    for r in late.itertuples():
        body = {"Store": int(r.Store), "Date": r.Date, "Holiday_Flag": int(r.Holiday_Flag),
                "Temperature": float(r.Temperature) + 40, "Fuel_Price": float(r.Fuel_Price), "CPI": float(r.CPI),
                "Unemployment": float(r.Unemployment)}
        for _ in range(6):          # hot weeks: enough requests for a drift status
            assert page.request.post("/api/sales/predict", data=body).status == 200
        resp = page.request.post("/api/sales/actuals", headers=write_headers("sales"), data=body | {"Weekly_Sales": float(r.Weekly_Sales)})
        assert resp.status in (200, 201), resp.text()
    return len(late)


def test_sales_panel_shows_verdict_error_chart_and_drift(page, gateway):
    n = post_sales(page)
    answer = page.request.get("/api/sales/monitoring").json()
    current = next(v for v in answer["versions"] if v["serving"])
    live = current["live_error"]
    assert live["actuals"] >= n >= 30

    page.goto("/#sales")
    panel = page.locator("#view-sales .monitoring-panel")
    expect(panel.locator("[data-verdict] .statement")).to_have_text(current["verdict"])
    badge = "Beats the baseline live" if live["beats_baseline"] else "Does NOT beat the baseline live"
    expect(panel.locator("[data-verdict] .badge")).to_have_text(badge)
    expect(panel.locator("[data-live-error]")).to_contain_text(f"baseline: {live['baseline']}")
    expect(panel.locator("[data-live-error]")).to_contain_text(f"live ({live['actuals']} actuals)")
    data = chart_data(page, "#view-sales .monitoring-panel canvas")
    assert data is not None and data["labels"] == [d["day"] for d in live["by_day"]]
    assert data["datasets"][0]["data"] == pytest.approx([d["model"] for d in live["by_day"]])
    assert data["datasets"][1]["data"] == pytest.approx([d["baseline"] for d in live["by_day"]])
    temperature = panel.locator('[data-drift] tr[data-feature="Temperature"]')
    expect(temperature.locator("[data-status]")).to_have_text(current["drift"]["features"]["Temperature"]["status"])
    assert current["drift"]["features"]["Temperature"]["status"] == "drift"        # 40 degrees hotter than training
    expect(panel.locator("[data-requests]")).to_have_text(f"{current['requests']:,}")
    panel.scroll_into_view_if_needed()
    screenshot(page, "monitoring-sales")

    # Refresh re-reads the service: a new actual moves the count shown.
    page.request.post("/api/sales/actuals", headers=write_headers("sales"), data={"Store": 1, "Date": "2012-10-26", "Holiday_Flag": 0,
                                                  "Temperature": 60.0, "Fuel_Price": 3.5, "CPI": 220.0,
                                                  "Unemployment": 7.0, "Weekly_Sales": 1.5e6})
    after = next(v for v in page.request.get("/api/sales/monitoring").json()["versions"] if v["serving"])
    panel.locator("[data-refresh]").click()
    expect(panel.locator("[data-live-error]")).to_contain_text(f"live ({after['live_error']['actuals']} actuals)")


@pytest.mark.parametrize("service", ["flow", "powerball", "demand", "forecast"])
def test_every_view_has_the_panel(page, gateway, service):
    require_service(gateway, service)
    answer = page.request.get(f"/api/{service}/monitoring").json()
    current = next(v for v in answer["versions"] if v["serving"])
    page.goto(f"/#{service}")
    panel = page.locator(f"#view-{service} .monitoring-panel")
    expect(panel.locator("[data-verdict] .statement")).to_have_text(current["verdict"])
    if service == "flow":
        expect(panel.locator("[data-verdict] .badge")).to_have_text("No actuals")
        expect(panel.locator('[data-drift] tr[data-feature="queueLength"]')).to_be_visible()
    elif service == "powerball":
        expect(panel.locator("[data-drift-note]")).to_contain_text("no input features")
        expect(panel.locator("[data-live-error]")).to_contain_text("baseline: uniform")
    else:
        expect(panel.locator("[data-drift] tbody tr")).to_have_count(len(current["drift"]["features"]))
