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
    assert labels[:5] == ["Units, no promotion", "Units, with promotion", "Revenue, no promotion",
                          "Revenue, with promotion", "Best price (max revenue)"]   # then the actual weeks
    marked = page.evaluate("Chart.getChart(document.querySelector('#demand-chart')).data.datasets[4].data")
    assert marked[0]["x"] == pytest.approx(best)
    assert marked[1]["x"] == pytest.approx(curve["with_promotion"]["best_price"])
    units = page.evaluate("Chart.getChart(document.querySelector('#demand-chart')).data.datasets[0].data.map(p => p.y)")
    assert units == pytest.approx([p["units"] for p in curve["without_promotion"]["points"]])
    screenshot(page, "demand")


def test_demand_badge_shows_the_served_model_against_the_strongest_baseline(page, gateway):
    require_service(gateway, "demand")
    page.goto("/#demand")
    metrics = page.request.get("/api/demand/model").json()["metrics"]
    summary, target = metrics["summary"], metrics["target"]
    card = page.locator("#demand-verdict")
    served = page.request.post("/api/demand/predict", data={"date": "2011-06-15", "store_id": 25027,
                                                            "product_id": "7192100337", "price": 5.99}).json()["model"]
    assert served == summary["model"] == metrics["choice"]["chosen"]   # served == chosen
    expect(card.locator("[data-served]")).to_have_text(served)
    expect(card.locator("[data-baseline]")).to_have_text(summary["baseline"])
    strongest = min((b for b in metrics["choice"]["baselines"] if b != served), key=lambda b: metrics["test"][b]["mae"])
    assert summary["baseline"] == strongest
    expect(card.locator("[data-verdict]")).to_have_text(
        ("Beats" if summary["beats_baseline"] else "Does NOT beat") + " the strongest baseline")
    expect(card.locator("[data-target]")).to_have_text(f"Target ≤ {target['target_ratio']}× "
                                                       + ("met" if target["met"] else "NOT met"))
    expect(card.locator("[data-target]")).to_have_class("badge good" if target["met"] else "badge bad")
    expect(card.locator("[data-ratio]")).to_have_text(f"{summary['ratio_to_baseline']:.3f}".rstrip("0").rstrip("."))
    expect(card.locator("[data-target-text]")).to_have_text(target["statement"])
    expect(card.locator("[data-totals]")).to_have_text(metrics["total_units"]["statement"])
    expect(card.locator("[data-monotone]")).to_have_text(metrics["monotonicity"]["statement"])


def test_demand_curve_marks_prices_outside_those_seen(page, gateway):
    require_service(gateway, "demand")
    page.goto("/#demand")
    expect(page.locator("#dm-product option").first).to_be_attached()
    catalog = page.request.get("/api/demand/catalog").json()
    store, product = catalog["stores"][0]["store_id"], catalog["products"][0]
    page.select_option("#dm-store", store)
    page.select_option("#dm-product", product["product_id"])
    high = round(product["max_price"] * 1.4, 2)
    page.fill("#dm-max", str(high))
    page.fill("#dm-steps", "11")
    page.get_by_role("button", name="Show price curve").click()
    expect(page.locator("#demand-curve [data-best]")).to_be_visible()
    curve = page.request.post("/api/demand/price-curve", data={
        "date": catalog["last_week"], "store_id": store, "product_id": product["product_id"], "price_max": high,
        "steps": 11}).json()
    assert curve["warnings"] and not all(p["within_seen_prices"] for p in curve["without_promotion"]["points"])
    expect(page.locator("#demand-curve [data-warning]")).to_have_count(len(curve["warnings"]))
    expect(page.locator("#demand-curve [data-warning]").first).to_have_text(curve["warnings"][0])
    fills = page.evaluate("Chart.getChart(document.querySelector('#demand-chart')).data.datasets[0].pointBackgroundColor")
    assert [f == "#ffffff" for f in fills] == [not p["within_seen_prices"] for p in curve["without_promotion"]["points"]]
    screenshot(page, "demand-extrapolated")


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
