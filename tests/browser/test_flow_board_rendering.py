"""The flow board's rendering of the status shape issue 3 documents, with the API answered by the test.

This checks the page (colours, waits, anomaly and stale markers, redirect advice, automatic refresh),
not the flow service: test_flow_view.py drives the real service once it is built.
"""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect


pytestmark = [pytest.mark.browser, pytest.mark.slow]


def status(n: int) -> dict:
    return {"stadiumId": "RABAT", "model_version": "test-version", "anomaly_detector": "event_rule",
            "generated_at": "2026-01-14T19:00:30Z", "stale_after_seconds": 180,
            "counts": {"green": 1, "yellow": int(n == 0), "red": int(n > 0), "stale": 1, "unknown": 1}, "gates": [
        {"gateId": "G1", "wait": 2.5, "state": "green", "anomaly": False, "anomalyScore": 0.1,
         "last_updated": "2026-01-14T19:00:00Z", "age_seconds": 30, "stale": False},
        {"gateId": "G2", "wait": 7.0 + n, "state": "yellow" if n == 0 else "red", "anomaly": n > 0, "anomalyScore": 0.9,
         "last_updated": "2026-01-14T19:00:00Z", "age_seconds": 30, "stale": False,
         "redirect": {"gateId": "G1", "wait": 2.5, "walk_minutes": 3, "saving_minutes": 1.5 + n, "fans_per_minute": 12,
                      "target_wait_after": 3.1}},
        {"gateId": "G3", "wait": None, "state": "unknown", "anomaly": False, "last_updated": None, "age_seconds": None,
         "stale": True},
        {"gateId": "G4", "wait": 14.2, "state": "stale", "anomaly": False, "anomalyScore": 0.2,
         "last_updated": "2026-01-05T18:00:00Z", "age_seconds": 9 * 86400, "stale": True},
    ]}


def test_flow_board_renders_states_anomalies_redirects_and_refreshes(page, gateway):
    calls = []

    def answer_status(route):
        calls.append(route.request.url)
        route.fulfill(status=200, content_type="application/json", body=json.dumps(status(0 if len(calls) < 2 else 5)))

    page.route("**/api/services", lambda r: r.fulfill(status=200, content_type="application/json",
                                                        body=json.dumps({"services": ["flow"]})))
    page.route("**/api/flow/model", lambda r: r.fulfill(status=200, content_type="application/json", body=json.dumps(
        {"service": "flow", "version": "test-version", "metrics": {}})))
    page.route("**/api/flow/stadiums", lambda r: r.fulfill(status=200, content_type="application/json", body=json.dumps(
        {"stadiums": [{"id": "RABAT", "name": "Prince Moulay Abdellah Stadium", "city": "Rabat"}]})))
    page.route("**/api/flow/status?*", answer_status)
    page.goto("/#flow")
    board = page.locator("#flow-board")
    expect(board.locator("[data-gate]")).to_have_count(4)
    assert "stadiumId=RABAT" in calls[0]
    expect(board.locator("[data-gate=G1]")).to_have_attribute("data-state", "green")
    expect(board.locator("[data-gate=G2]")).to_have_attribute("data-state", "yellow")
    expect(board.locator("[data-gate=G2] [data-redirect]")).to_contain_text("Send up to 12 fans/min to gate G1")
    expect(board.locator("[data-gate=G2] [data-redirect]")).to_contain_text("3.1 min with them")
    expect(board.locator("[data-gate=G3]")).to_have_attribute("data-state", "unknown")
    # a stale gate: grey, its reading's age, not counted among green/yellow/red
    g4 = board.locator("[data-gate=G4]")
    expect(g4).to_have_attribute("data-state", "stale")
    expect(g4.locator("[data-age]")).to_have_text("9 days")
    assert g4.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(243, 243, 243)"
    expect(page.locator("#flow-summary [data-count=stale]")).to_have_text("1 stale")
    expect(page.locator("#flow-summary [data-count=red]")).to_have_text("0 red")
    expect(page.locator("#flow-summary [data-detector]")).to_have_text("event_rule")
    expect(board.locator("[data-gate=G1] [data-wait]")).to_have_text("2.5 min")
    # the next automatic refresh (every 2 s) turns G2 red with an anomaly, without a reload
    page.select_option("#flow-every", "2")
    expect(board.locator("[data-gate=G2]")).to_have_attribute("data-state", "red", timeout=6_000)
    expect(board.locator("[data-gate=G2] [data-anomaly]")).to_be_visible()
    expect(page.locator("#flow-summary [data-count=red]")).to_have_text("1 red")
    # leaving the view stops the polling
    page.locator("#tab-sales").click()
    seen = len(calls)
    page.wait_for_timeout(4_500)
    assert len(calls) == seen, "the board kept polling while hidden"


def test_flow_times_are_local_with_utc_on_hover(browser, gateway):
    context = browser.new_context(base_url=gateway.url, timezone_id="Asia/Tokyo", locale="en-GB")
    page = context.new_page()
    try:
        page.route("**/api/services", lambda r: r.fulfill(status=200, content_type="application/json",
                                                            body=json.dumps({"services": ["flow"]})))
        page.route("**/api/flow/model", lambda r: r.fulfill(status=200, content_type="application/json",
                                                              body=json.dumps({"version": "v", "metrics": {}})))
        page.route("**/api/flow/stadiums", lambda r: r.fulfill(status=200, content_type="application/json",
                                                                 body=json.dumps({"stadiums": [{"id": "RABAT"}]})))
        page.route("**/api/flow/status?*", lambda r: r.fulfill(status=200, content_type="application/json",
                                                                 body=json.dumps(status(0))))
        page.goto("/#flow")
        stamp = page.locator("[data-gate=G1] time")
        expect(stamp).to_have_attribute("datetime", "2026-01-14T19:00:00Z")
        expect(stamp).to_have_attribute("title", "2026-01-14T19:00:00Z UTC")
        expect(stamp).to_contain_text("04:00")          # 19:00 UTC is 04:00 the next day in Tokyo
        expect(stamp).to_contain_text("15 Jan 2026")
    finally:
        context.close()
