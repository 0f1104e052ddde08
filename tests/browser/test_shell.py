"""The UI shell: navigation by keyboard, the vendored chart library, honest model panels, absent services."""
from __future__ import annotations

import copy
import json

import pytest
from playwright.sync_api import expect

from .conftest import ROOT, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]
VIEWS = ["sales", "forecast", "demand", "flow", "powerball"]


def test_chart_library_is_the_vendored_pinned_version(page, gateway):
    page.goto("/")
    line = next(l for l in (ROOT / "frontend/vendor/VERSIONS.txt").read_text().splitlines() if l.startswith("chart.umd"))
    version = line.split()[2]
    assert page.evaluate("window.Chart && Chart.version") == version
    assert page.evaluate("window.API_BASE_URL") == ""


def test_every_view_has_a_tab_and_tabs_work_by_keyboard(page, gateway):
    page.goto("/")
    expect(page.locator("#view-sales")).to_be_visible()  # the default view
    for name in VIEWS:
        tab = page.locator(f"#tab-{name}")
        tab.focus()
        page.keyboard.press("Enter")
        expect(page.locator(f"#view-{name}")).to_be_visible()
        expect(tab).to_have_attribute("aria-current", "page")
        expect(page.locator(f"#heading-{name}")).to_be_focused()
        assert page.evaluate("location.hash") == f"#{name}"
        for other in VIEWS:
            if other != name:
                expect(page.locator(f"#view-{other}")).to_be_hidden()


def test_views_of_services_not_mounted_say_so(page, gateway):
    """A view whose service the API does not serve says so (the API's list answered by the test)."""
    page.route("**/api/services", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps({"services": ["sales"]})))
    for name in VIEWS[1:]:
        page.goto(f"/#{name}")
        box = page.locator(f"#view-{name} .unavailable")
        expect(box).to_be_visible()
        expect(box).to_contain_text(f"The {name} service is not available")
        expect(page.locator(f"#view-{name}")).to_have_attribute("data-available", "false")
    screenshot(page, "unavailable")


def test_without_a_service_list_views_ask_each_service_health(page, gateway):
    """In AWS there is no /api/services: each view asks /api/<svc>/health."""
    page.route("**/api/services", lambda route: route.fulfill(status=404, content_type="text/html", body="<h1>404</h1>"))
    page.route("**/api/powerball/health", lambda route: route.fulfill(status=503, body="down"))
    page.goto("/#powerball")
    expect(page.locator("#view-powerball .unavailable")).to_contain_text("The powerball service is not available")
    page.goto("/#sales")
    expect(page.locator("#view-sales")).to_have_attribute("data-available", "true")


def test_model_panel_says_plainly_when_the_model_does_not_beat_the_baseline(page, gateway):
    manifest = page.request.get("/api/sales/model").json()
    worse = copy.deepcopy(manifest)
    summary = worse["metrics"]["summary"]
    summary.update(beats_baseline=False, model_score=summary["baseline_score"] * 1.2,
                   statement=f"{summary['model']} does NOT beat the {summary['baseline']} baseline on held-out data")
    page.route("**/api/sales/model", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(worse)))
    page.goto("/#sales")
    first = page.locator("#view-sales .model-panel .summary").first
    expect(first.locator(".badge")).to_have_text("Does NOT beat the baseline")
    expect(first).to_contain_text(summary["statement"])
    expect(first).to_have_attribute("data-beats-baseline", "false")


def test_model_panel_shows_why_when_no_model_is_loaded(page, gateway):
    page.route("**/api/sales/model", lambda route: route.fulfill(
        status=503, content_type="application/json",
        body=json.dumps({"error": {"code": "model_unavailable", "message": "no model loaded: loading", "details": []}})))
    page.goto("/#sales")
    expect(page.locator("#view-sales .model-panel .error")).to_contain_text("no model is loaded yet: no model loaded: loading")
