"""The monitoring demo's replay (make demo-monitoring) against a served gateway on 127.0.0.1."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import free_port, make_settings


@pytest.fixture
def gateway_url(sales_artifact, trained, monitoring_env, tmp_path):
    from services.common.store import ModelStore
    from services.gateway import create_app

    uri = (tmp_path / "store").as_uri()
    store = ModelStore(uri, tmp_path / "publish")
    store.publish("sales", sales_artifact)
    for name in ("demand", "powerball"):
        store.publish(name, trained(name))
    app = create_app(make_settings(uri, tmp_path, model_refresh_seconds=0), services=["sales", "demand", "powerball"])
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def test_replay_fills_every_panel_and_says_the_rows_were_seen(gateway_url, capsys):
    import json
    import time
    import urllib.request

    from services.common import replay

    for name in ("sales", "demand", "powerball"):   # the models load in the background
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{gateway_url}/api/{name}/ready", timeout=5):
                    break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
    assert replay.main(["--url", gateway_url, "--weeks", "2", "sales", "demand", "powerball"]) == 0
    out = capsys.readouterr().out
    assert "HTTP 5" not in out, "no /actuals or /predict answered a 5xx, not even one the client tried again"
    assert "[sales] 90 rows replayed" in out              # 45 stores x 2 weeks (the small model knows 2: 400s)
    assert "in-sample" in out
    for name in ("sales", "demand", "powerball"):
        with urllib.request.urlopen(f"{gateway_url}/api/{name}/monitoring", timeout=10) as resp:
            current = json.loads(resp.read())["versions"][0]
        live = current["live_error"]
        assert live["actuals"] > 0 and live["in_training"] == live["actuals"], name
