"""The flow gate board in headless Chromium: live refresh while readings arrive at /api/flow/ingest."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from .conftest import require_service, screenshot
from tests.conftest import write_headers

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def gates_of(status: dict) -> list[dict]:
    gates = status["gates"]
    if isinstance(gates, dict):
        return [{"gateId": k, **v} for k, v in gates.items()]
    return gates


def readings(stadium: str, gate_ids: list[str], minutes: int, queue_of) -> list[dict]:
    start = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=minutes)
    out = []
    for m in range(minutes):
        ts = (start + timedelta(minutes=m)).isoformat().replace("+00:00", "Z")
        for i, gate in enumerate(gate_ids):
            q = queue_of(i, m)
            out.append({"stadiumId": stadium, "gateId": gate, "ts": ts, "perMinuteCount": 45 if q > 50 else 20,
                        "avgProcessingTime": 12.0 if q > 50 else 3.0, "queueLength": q})
    return out


def test_flow_board_refreshes_on_its_own_as_readings_arrive(page, gateway):
    require_service(gateway, "flow")
    stadiums = page.request.get("/api/flow/stadiums").json()["stadiums"]
    first = stadiums[0]
    stadium = first if isinstance(first, str) else first.get("id", first.get("stadiumId"))

    page.goto("/#flow")
    expect(page.locator("#flow-stadium")).to_have_value(stadium)
    page.select_option("#flow-every", "2")
    board = page.locator("#flow-board")
    gate_ids = [g.get("gateId", g.get("id")) for g in gates_of(page.request.get(f"/api/flow/status?stadiumId={stadium}").json())]
    expect(board.locator("[data-gate]")).to_have_count(len(gate_ids))

    # a match day starts: gate 1 jams, the others flow; the board must follow without a reload
    batch = readings(stadium, gate_ids, 10, lambda i, m: 150 * (m + 1) if i == 0 else 2)
    resp = page.request.post("/api/flow/ingest", headers=write_headers("flow"), data={"readings": batch})
    assert resp.status == 202, resp.text()
    before = int(page.locator("#flow-board-card").get_attribute("data-refreshes") or 0)
    expect(page.locator("#flow-board-card")).not_to_have_attribute("data-refreshes", str(before), timeout=6_000)
    page.wait_for_timeout(2_500)  # one more automatic refresh after the ingest
    status = page.request.get(f"/api/flow/status?stadiumId={stadium}").json()
    for gate in gates_of(status):
        card = board.locator(f"[data-gate='{gate.get('gateId', gate.get('id'))}']")
        expect(card).to_have_attribute("data-state", str(gate["state"]).lower())
        if gate.get("anomaly"):
            expect(card.locator("[data-anomaly]")).to_be_visible()
        if gate.get("redirect"):
            expect(card.locator("[data-redirect]")).to_contain_text(f"gate {gate['redirect']['gateId']}")
    states = {str(g["state"]).lower() for g in gates_of(status)}
    assert states - {"green"}, f"the jammed gate should not be green: {status}"
    screenshot(page, "flow")


def test_flow_unknown_stadium_error_is_shown(page, gateway):
    require_service(gateway, "flow")
    page.goto("/#flow")
    expect(page.locator("#flow-stadium option").first).to_be_attached()
    # a stale id (e.g. a stadium removed from the configuration) must show the API's answer
    page.evaluate("""() => { const s = document.querySelector('#flow-stadium');
        s.add(new Option('Gone', 'NO_SUCH_STADIUM')); s.value = 'NO_SUCH_STADIUM';
        s.dispatchEvent(new Event('change')); }""")
    error = page.request.get("/api/flow/status?stadiumId=NO_SUCH_STADIUM")
    assert error.status == 404
    detail = error.json()["error"]["details"][0]
    assert detail["field"] == "stadiumId"
    expect(page.locator("#flow-stadium-error")).to_have_text(detail["problem"])
    expect(page.locator("#flow-stadium")).to_have_attribute("aria-invalid", "true")
    # choosing a known stadium again clears it
    page.select_option("#flow-stadium", index=0)
    expect(page.locator("#flow-stadium-error")).to_have_text("")


def test_flow_board_greys_stale_gates_and_spreads_redirects(page, gateway):
    """Against the real service: one gate's newest reading is 9 days old, seven gates are jammed and a few
    are free; the board must grey the old one, leave it out of the counts and of the redirects, and spread
    the redirected fans so no target turns red."""
    require_service(gateway, "flow")
    stadium = "TANGIER"   # 13 gates; the other flow tests use the first stadium
    gate_ids = [f"G{i}" for i in range(1, 14)]
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    batch = []
    for m in range(6):
        ts = (now - timedelta(minutes=5 - m)).isoformat().replace("+00:00", "Z")
        for gid in gate_ids[:7]:
            batch.append({"stadiumId": stadium, "gateId": gid, "ts": ts, "perMinuteCount": 40,
                          "avgProcessingTime": 7.0, "queueLength": 900 + 60 * m, "openLanes": 4})
        for gid in gate_ids[7:12]:
            batch.append({"stadiumId": stadium, "gateId": gid, "ts": ts, "perMinuteCount": 15,
                          "avgProcessingTime": 6.0, "queueLength": 5})
    old = (now - timedelta(days=9)).isoformat().replace("+00:00", "Z")
    batch.append({"stadiumId": stadium, "gateId": "G13", "ts": old, "perMinuteCount": 15, "avgProcessingTime": 6.0,
                  "queueLength": 0})
    assert page.request.post("/api/flow/ingest", headers=write_headers("flow"), data={"readings": batch}).status == 202
    page.goto("/#flow")
    page.select_option("#flow-stadium", stadium)
    board = page.locator("#flow-board")
    stale = board.locator("[data-gate=G13]")
    expect(stale).to_have_attribute("data-state", "stale")
    expect(stale.locator("[data-age]")).to_have_text("9 days")
    status = page.request.get(f"/api/flow/status?stadiumId={stadium}").json()
    counts = status["counts"]
    assert counts["stale"] == 1 and counts["red"] + counts["yellow"] + counts["green"] == 12
    expect(page.locator("#flow-summary [data-count=stale]")).to_have_text("1 stale")
    expect(page.locator("#flow-summary [data-count=red]")).to_have_text(f"{counts['red']} red")
    redirects = {g["gateId"]: g["redirect"] for g in status["gates"] if g["redirect"]}
    assert redirects and "G13" not in {r["gateId"] for r in redirects.values()}
    assert len({r["gateId"] for r in redirects.values()}) >= 2, redirects
    assert all(r["target_wait_after"] <= 10 for r in redirects.values())
    for source, r in redirects.items():
        expect(board.locator(f"[data-gate={source}] [data-redirect]")).to_contain_text(f"gate {r['gateId']}")
    expect(page.locator("#flow-summary [data-detector]")).to_have_text(status["anomaly_detector"])
    screenshot(page, "flow-stale-redirects")
