"""The demand view in headless Chromium against the gateway with a quick demand pipeline run."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import require_service, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_demand_predict_and_price_curve(page, gateway):
    require_service(gateway, "demand")
    page.goto("/#demand")
    view = page.locator("#view-demand")
    manifest = page.request.get("/api/demand/model").json()
    expect(view.locator("[data-model-version]")).to_have_text(manifest["version"])
    expect(view.locator(".model-panel")).to_contain_text(manifest["metrics"]["summary"]["statement"])

    catalog = page.request.get("/api/demand/catalog").json()
    store, product = catalog["stores"][0]["store_id"], catalog["products"][0]["product_id"]
    expect(page.locator("#dm-product option")).to_have_count(len(catalog["products"]))
    expect(page.locator("#dm-date")).to_have_value(catalog["last_week"])
    page.select_option("#dm-store", store)
    page.select_option("#dm-product", product)
    page.fill("#dm-price", "3.99")
    page.check("#dm-promo")
    page.get_by_role("button", name="Predict units").click()
    expected = page.request.post("/api/demand/predict", data={
        "date": catalog["last_week"], "store_id": store, "product_id": product, "price": 3.99, "promotion": True}).json()
    expect(page.locator("#demand-result [data-units]")).to_have_text(f"{expected['prediction']:,.1f}".rstrip("0").rstrip("."))

    page.get_by_role("button", name="Show price curve").click()
    expect(page.locator("#demand-curve [data-best]")).to_be_visible()
    curve = page.request.post("/api/demand/price-curve", data={
        "date": catalog["last_week"], "store_id": store, "product_id": product, "steps": 21}).json()
    best = curve["without_promotion"]["best_price"]
    expect(page.locator("#demand-curve [data-best]")).to_contain_text(f"Best price without promotion ${best:.2f}")
    labels = page.evaluate("Chart.getChart(document.querySelector('#demand-chart')).data.datasets.map(d => d.label)")
    assert labels == ["Units, no promotion", "Units, with promotion", "Revenue, no promotion",
                      "Revenue, with promotion", "Best price (max revenue)"]
    marked = page.evaluate("Chart.getChart(document.querySelector('#demand-chart')).data.datasets[4].data")
    assert marked[0]["x"] == pytest.approx(best)
    assert marked[1]["x"] == pytest.approx(curve["with_promotion"]["best_price"])
    units = page.evaluate("Chart.getChart(document.querySelector('#demand-chart')).data.datasets[0].data.map(p => p.y)")
    assert units == pytest.approx([p["units"] for p in curve["without_promotion"]["points"]])
    screenshot(page, "demand")


def test_demand_errors_next_to_their_fields(page, gateway):
    require_service(gateway, "demand")
    page.goto("/#demand")
    expect(page.locator("#dm-product option").first).to_be_attached()
    page.fill("#dm-price", "")
    page.get_by_role("button", name="Predict units").click()
    expect(page.locator("#dm-price-error")).to_contain_text("required")
    page.fill("#dm-price", "4.5")
    page.fill("#dm-steps", "1")
    page.get_by_role("button", name="Show price curve").click()
    expect(page.locator("#dm-steps-error")).to_contain_text("greater than or equal to 2")
    expect(page.locator("#dm-price-error")).to_have_text("")
    screenshot(page, "demand-error")
