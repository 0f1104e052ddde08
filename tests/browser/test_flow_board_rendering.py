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
    return {"stadiumId": "RABAT", "model_version": "test-version", "gates": [
        {"gateId": "G1", "wait": 2.5, "state": "green", "anomaly": False, "anomalyScore": 0.1,
         "last_updated": "2026-01-14T19:00:00Z", "stale": False},
        {"gateId": "G2", "wait": 7.0 + n, "state": "yellow" if n == 0 else "red", "anomaly": n > 0, "anomalyScore": 0.9,
         "last_updated": "2026-01-14T19:00:00Z", "stale": False,
         "redirect": {"gateId": "G1", "wait": 2.5, "walk_minutes": 3, "saving_minutes": 1.5 + n}},
        {"gateId": "G3", "wait": None, "state": "green", "anomaly": False, "last_updated": None, "stale": True},
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
    expect(board.locator("[data-gate]")).to_have_count(3)
    assert "stadiumId=RABAT" in calls[0]
    expect(board.locator("[data-gate=G1]")).to_have_attribute("data-state", "green")
    expect(board.locator("[data-gate=G2]")).to_have_attribute("data-state", "yellow")
    expect(board.locator("[data-gate=G2] [data-redirect]")).to_contain_text("Send fans to gate G1")
    expect(board.locator("[data-gate=G3] [data-stale]")).to_be_visible()
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
