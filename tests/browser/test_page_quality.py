"""What every view must not do in headless Chromium: log a console error or fail a request on a normal visit
(the favicon included), show a focus ring that no keyboard put there, or print UTC as local time."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import ROOT, require_service

pytestmark = [pytest.mark.browser, pytest.mark.slow]
VIEWS = ["sales", "forecast", "demand", "flow", "powerball"]
# what each view shows once everything it asks for on arrival has answered
LOADED = {"sales": "#sales-forecast-summary", "forecast": "#forecast-verdicts [data-competition]",
          "demand": "#demand-history [data-history-summary]", "flow": "#flow-board [data-gate]",
          "powerball": "#pb-stats [data-uniformity]"}


@pytest.mark.parametrize("name", VIEWS)
def test_no_console_error_and_no_failed_request_on_arrival(browser, gateway, name):
    if name != "sales":
        require_service(gateway, name)
    context = browser.new_context(base_url=gateway.url)
    page = context.new_page()
    seen: list[str] = []
    page.on("console", lambda m: seen.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda exc: seen.append(f"page error: {exc}"))
    page.on("requestfailed", lambda r: seen.append(f"request failed: {r.url} {r.failure}"))
    page.on("response", lambda r: seen.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
    try:
        page.goto(f"/#{name}")
        expect(page.locator(f"#view-{name} [data-model-version]")).to_be_visible()
        expect(page.locator(LOADED[name]).first).to_be_visible()
        page.wait_for_load_state("networkidle")
        # headless Chromium never asks for the icon itself (a headed one does): the page asks for what it links
        icon = page.evaluate("fetch(document.querySelector('link[rel~=icon]').href).then(r => [r.url, r.status])")
        assert icon == [f"{gateway.url}/favicon.ico", 200]
        assert not seen, "\n".join(seen)
    finally:
        context.close()


def test_the_favicon_is_linked_and_served_as_an_icon(page, gateway):
    page.goto("/")
    href = page.evaluate("document.querySelector('link[rel~=icon]').href")
    assert href == f"{gateway.url}/favicon.ico"
    resp = page.request.get(href)
    assert resp.status == 200 and resp.body() == (ROOT / "frontend/favicon.ico").read_bytes()
    assert resp.headers["content-type"].startswith(("image/x-icon", "image/vnd.microsoft.icon"))


def outline(page, selector: str) -> str:
    return page.evaluate("sel => getComputedStyle(document.querySelector(sel)).outlineStyle", selector)


def test_focus_ring_only_for_keyboard_focus(page, gateway):
    # on arrival with a hash, and after a hash change, the heading may hold focus but shows no box
    page.goto("/#forecast")
    page.goto("/#sales")              # same document: a hashchange moves focus to the heading
    expect(page.locator("#heading-sales")).to_be_focused()
    assert outline(page, "#heading-sales") == "none"
    # a mouse click on a control (the metrics disclosure): focused, no ring
    summary = "#view-sales .model-panel .all-metrics > summary"
    page.locator(summary).click()
    assert page.evaluate("sel => document.activeElement === document.querySelector(sel)", summary)
    assert outline(page, summary) == "none"
    # the keyboard: Tab lands on the next field and it shows the ring
    page.locator("#sales-weeks").click()
    assert outline(page, "#sales-weeks") == "solid"   # text inputs match :focus-visible on click too (caret)
    page.keyboard.press("Tab")
    expect(page.locator("#sales-steps")).to_be_focused()
    assert outline(page, "#sales-steps") == "solid"
    page.keyboard.press("Tab")
    expect(page.locator("#sales-forecast-form button")).to_be_focused()
    assert outline(page, "#sales-forecast-form button") == "solid"


def test_tabs_by_keyboard_move_focus_to_the_heading_without_a_box(page, gateway):
    page.goto("/")
    page.locator("#tab-powerball").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#heading-powerball")).to_be_focused()
    assert outline(page, "#heading-powerball") == "none"


def test_times_are_local_with_utc_on_hover(browser, gateway):
    context = browser.new_context(base_url=gateway.url, timezone_id="America/Los_Angeles", locale="en-US")
    page = context.new_page()
    try:
        manifest = page.request.get("/api/sales/model").json()
        page.goto("/#sales")
        stamp = page.locator("#view-sales .model-panel .version time")
        expect(stamp).to_have_attribute("datetime", manifest["created_at"])
        utc = page.evaluate("iso => new Date(iso).toISOString().replace('.000Z', 'Z')", manifest["created_at"])
        expect(stamp).to_have_attribute("title", f"{utc} UTC")
        local = page.evaluate("""iso => new Date(iso).toLocaleString('en-US', {timeZone: 'America/Los_Angeles',
                                   dateStyle: 'medium', timeStyle: 'short'})""", manifest["created_at"])
        expect(stamp).to_have_text(local)
        # the monitoring panel's "live since" the same way
        since = page.locator("#view-sales .monitoring-panel [data-live-since] time")
        iso = since.get_attribute("datetime")
        monitoring = page.request.get("/api/sales/monitoring").json()
        assert iso in {v["live_since"] for v in monitoring["versions"]}
        expect(since).to_have_attribute("title", page.evaluate(
            "iso => new Date(iso).toISOString().replace('.000Z', 'Z') + ' UTC'", iso))
        expect(since).to_have_text(page.evaluate("""iso => new Date(iso).toLocaleString('en-US',
            {timeZone: 'America/Los_Angeles', dateStyle: 'medium', timeStyle: 'short'})""", iso))
    finally:
        context.close()
