"""The UI's screenshots in docs/screenshots/, from the models `make run` serves (`make screenshots`).

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--no-train] [--only sales,flow]

1. trains every service whose model is missing from the store (MODEL_STORE_URI, default var/models),
   as `make run` does: full training, not the tests' small models;
2. serves the gateway (API + UI) on a free port of 127.0.0.1, with flow's gate state and the
   monitoring counts in a temporary folder (nothing of var/ but the model store is read or written);
3. replays a simulated match day into flow (services.flow.simulate, stamped relative to now) and, as
   `make demo-monitoring` does, the data sets' latest weeks as requests and actuals, so the monitoring
   panels have figures (in-sample ones: those rows were trained on, and the panels say so);
4. drives Debian's headless Chromium (/usr/bin/chromium or $CHROMIUM_PATH) through each view with
   Playwright and writes one full-page PNG per scene. The focused field is blurred first, so a picture
   shows no focus ring the keyboard did not put there.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
STADIUM = "AGADIR"          # flow's board: the stadium of `make demo`
MATCH = {"team_a": "Morocco", "team_b": "Senegal", "stadium": "Stade Mohamed V (Casablanca)", "time": "20:00",
         "stage": "Final", "date": "2026-01-18"}   # the seed client's own payload


def serve(tmp: Path):
    """The gateway on a free port under werkzeug in a thread; returns (url, server)."""
    os.environ["FLOW_SQLITE_PATH"] = str(tmp / "flow-state.sqlite3")
    os.environ["MONITORING_SQLITE_DIR"] = str(tmp / "monitoring")
    os.environ["MONITORING_FLUSH_SECONDS"] = "1"      # the panels show the replayed counts at once
    os.environ["API_KEYS_DIR"] = str(tmp / "keys")    # this run's write keys: the replays below send them
    from werkzeug.serving import make_server

    from services.common.auth import ensure_keys
    from services.common.registry import load_registry

    ensure_keys(tmp / "keys", [s.name for s in load_registry().services])

    from services.common.config import load_settings
    from services.gateway import create_app

    app = create_app(load_settings())
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, name="screenshots-gateway", daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def wait_ready(url: str, services: list[str], timeout: float = 120) -> None:
    import requests

    deadline = time.monotonic() + timeout
    for name in services:
        while requests.get(f"{url}/api/{name}/ready", timeout=10).status_code != 200:
            if time.monotonic() > deadline:
                raise SystemExit(f"{name} is not ready after {timeout:.0f} s: {url}/api/{name}/ready")
            time.sleep(0.3)


def feed_flow(url: str) -> None:
    """Minutes 1..150 of a simulated match day, the newest stamped with the current minute."""
    from datetime import datetime, timezone

    from services.flow.simulate import replay, simulate_day
    from services.flow.stadiums import load_stadiums

    start = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    rows = simulate_day(load_stadiums()[STADIUM], seed=7, start=start)
    next(replay(rows, url, at=150))


def shoot(page, out: Path, name: str) -> None:
    page.evaluate("() => document.activeElement && document.activeElement.blur && document.activeElement.blur()")
    page.mouse.move(0, 0)
    page.wait_for_timeout(150)
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}", flush=True)


def submit(page, values: dict[str, str], button: str, *wait: str) -> None:
    """Fill the fields, press the button, wait for what the answer (or the errors) show."""
    for selector, value in values.items():
        page.fill(selector, value)
    page.get_by_role("button", name=button, exact=True).click()
    for selector in wait:
        page.locator(selector).first.wait_for()


# --------------------------------------------------------------------------- scenes
def sales(page, out):
    page.goto("/#sales")
    page.locator("#sales-forecast-summary").wait_for()
    page.locator("#sales-served-body .summary").first.wait_for()
    shoot(page, out, "sales")
    # a date before 52 weeks of history and an impossible temperature: both errors at once
    submit(page, {"#sp-date": "2009-06-01", "#sp-temp": "900"}, "Predict", "#sp-temp-error:not(:empty)",
           "#sp-date-error:not(:empty)")
    shoot(page, out, "sales-error")


def forecast(page, out):
    page.goto("/#forecast")
    page.locator("#forecast-verdicts [data-competition]").first.wait_for()
    page.select_option("#fc-stage", MATCH["stage"])
    submit(page, {"#fc-team-a": MATCH["team_a"], "#fc-team-b": MATCH["team_b"], "#fc-stadium": MATCH["stadium"],
                  "#fc-time": MATCH["time"], "#fc-date": MATCH["date"]}, "Predict attendance",
           "#forecast-result [data-history-summary], #forecast-result [data-no-history]")
    shoot(page, out, "forecast")
    # team B = team A while the kickoff is wrong: both shown, the previous answer gone
    submit(page, {"#fc-team-b": MATCH["team_a"], "#fc-time": "25:99"}, "Predict attendance",
           "#fc-time-error:not(:empty)", "#fc-team-b-error:not(:empty)")
    shoot(page, out, "forecast-error")
    # an unknown stadium: a short message with a few suggestions
    submit(page, {"#fc-team-b": MATCH["team_b"], "#fc-time": MATCH["time"], "#fc-stadium": "Stade de Laayoune"},
           "Predict attendance", "#fc-stadium-error:not(:empty)")
    shoot(page, out, "forecast-stadium")


def demand(page, out):
    page.goto("/#demand")
    page.locator("#dm-product option").first.wait_for(state="attached")
    catalog = page.request.get("/api/demand/catalog").json()
    # the store x product with the most held-out weeks, so the history shows them
    best, most = None, -1
    for s in catalog["stores"]:
        for p in catalog["products"]:
            n = len(page.request.get(f"/api/demand/history?store_id={s['store_id']}&product_id={p['product_id']}")
                    .json()["test"]["points"])
            if n > most:
                best, most = (s["store_id"], p["product_id"]), n
    page.select_option("#dm-store", best[0])
    page.select_option("#dm-product", best[1])
    page.check("#dm-promo")
    submit(page, {}, "Predict units", "#demand-result [data-units]")
    submit(page, {}, "Show price curve", "#demand-curve [data-best]", "#demand-history [data-history-summary]")
    shoot(page, out, "demand")
    submit(page, {"#dm-min": "9", "#dm-max": "3", "#dm-steps": "1"}, "Show price curve",
           "#dm-steps-error:not(:empty)", "#dm-max-error:not(:empty)")
    shoot(page, out, "demand-error")


def flow(page, out):
    page.goto("/#flow")
    page.locator("#flow-board [data-gate]").first.wait_for()
    page.select_option("#flow-stadium", STADIUM)
    page.select_option("#flow-every", "0")
    page.locator(f"#flow-board-card[data-stadium='{STADIUM}']").wait_for()
    shoot(page, out, "flow")


def powerball(page, out):
    page.goto("/#powerball")
    submit(page, {"#pb-seed": "7"}, "Generate tickets", "#pb-result [data-ticket]", "#pb-draws [data-draw]",
           "#pb-stats [data-uniformity]")
    shoot(page, out, "powerball")


def unavailable(page, out):
    page.route("**/api/services", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps({"services": ["sales"]})))
    page.goto("/#flow")
    page.locator("#view-flow .unavailable").wait_for()
    shoot(page, out, "unavailable")


SCENES = {"sales": sales, "forecast": forecast, "demand": demand, "flow": flow, "powerball": powerball,
          "unavailable": unavailable}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--no-train", action="store_true", help="use the store as it is (no bootstrap)")
    parser.add_argument("--only", default="", help=f"comma-separated scenes: {', '.join(SCENES)}")
    args = parser.parse_args(argv)
    scenes = [s for s in args.only.split(",") if s] or list(SCENES)
    unknown = set(scenes) - set(SCENES)
    if unknown:
        parser.error(f"unknown scenes {sorted(unknown)}; known: {', '.join(SCENES)}")
    executable = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).exists():
        raise SystemExit(f"no chromium at {executable}: apt-get install -y chromium (or set CHROMIUM_PATH)")
    if not args.no_train:
        from services.common import bootstrap

        if bootstrap.main([]) != 0:
            raise SystemExit("training failed: no screenshots taken")
    from playwright.sync_api import sync_playwright

    from services.gateway import built_services

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="screenshots-") as tmp:
        url, server = serve(Path(tmp))
        try:
            wait_ready(url, built_services())
            if "flow" in scenes:
                feed_flow(url)
            from services.common import replay

            replay.main(["--url", url])
            time.sleep(2.5)                                  # one flush of every worker's counts
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
                for name in scenes:
                    context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=url,
                                                  locale="en-GB", timezone_id="Africa/Casablanca")
                    page = context.new_page()
                    page.set_default_timeout(30_000)
                    errors: list[str] = []
                    page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
                    SCENES[name](page, args.out)
                    context.close()
                    if errors:
                        raise SystemExit(f"{name}: JavaScript errors in the page: {errors}")
                browser.close()
        finally:
            server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
