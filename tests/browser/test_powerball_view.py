"""The powerball view in headless Chromium against the gateway with a small trained powerball model."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import require_service, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_powerball_tickets_honest_evaluation_and_frequencies(page, gateway):
    require_service(gateway, "powerball")
    page.goto("/#powerball")
    view = page.locator("#view-powerball")
    manifest = page.request.get("/api/powerball/model").json()
    summary = manifest["metrics"]["summary"]
    expect(view.locator(".model-panel")).to_contain_text(summary["statement"])
    badge = "Beats the baseline" if summary["beats_baseline"] else "Does NOT beat the baseline"
    expect(view.locator(".model-panel .summary .badge").first).to_have_text(badge)

    page.fill("#pb-count", "4")
    page.fill("#pb-seed", "7")
    page.locator("#pb-seed").press("Enter")
    tickets = page.locator("#pb-result [data-ticket]")
    expect(tickets).to_have_count(4)
    expected = page.request.get("/api/powerball/predict?count=4&seed=7").json()
    for i, ticket in enumerate(expected["tickets"]):
        whites = [int(t) for t in tickets.nth(i).locator("[data-white]").all_inner_texts()]
        assert whites == ticket["white_balls"]
        assert len(set(whites)) == 5 and all(1 <= w <= 69 for w in whites)
        assert int(tickets.nth(i).locator("[data-power]").inner_text()) == ticket["powerball"]
    evaluation = page.locator("#pb-result [data-evaluation]")
    expect(evaluation).to_contain_text(expected["evaluation"])
    expect(evaluation).to_contain_text("Edge measured:" if expected["edge_detected"] else "No edge over chance:")
    expect(page.locator("#pb-result [data-seed]")).to_have_text("7")

    stats = page.request.get("/api/powerball/stats?window=50").json()
    expect(page.locator("#pb-stats [data-uniformity]")).to_contain_text(stats["white_balls"]["uniformity"]["statement"])
    counts = page.evaluate("Chart.getChart(document.querySelector('#pb-white-chart')).data.datasets[0].data")
    assert counts == [f["count"] for f in stats["white_balls"]["frequencies"]]
    assert len(counts) == stats["era"]["white_max"]
    screenshot(page, "powerball")


def test_powerball_bad_count_and_window_shown_by_their_fields(page, gateway):
    require_service(gateway, "powerball")
    page.goto("/#powerball")
    page.fill("#pb-count", "11")
    page.get_by_role("button", name="Generate tickets").click()
    expect(page.locator("#pb-count-error")).to_contain_text("less than or equal to 10")
    expect(page.locator("#pb-count")).to_have_attribute("aria-invalid", "true")
    page.fill("#pb-window", "5")
    page.get_by_role("button", name="Update statistics").click()
    expect(page.locator("#pb-window-error")).to_contain_text("greater than or equal to 10")
