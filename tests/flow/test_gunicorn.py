"""Under gunicorn with 2 workers, 4 concurrent clients x 5,000 readings: none lost, none doubled."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
import requests

from services.flow.state import SqliteStateStore
from tests.conftest import write_headers
from tests.conftest import ROOT, free_port

STADIUM = "TANGIER"  # 13 gates


def readings_for(client: int, n: int, start: datetime) -> list[dict]:
    # each client owns some gates; minutes run forward so the newest reading per gate is known
    gates = [f"G{g}" for g in range(1, 14) if g % 4 == client]
    out = []
    for i in range(n):
        gate, minute = gates[i % len(gates)], i // len(gates)
        out.append({"stadiumId": STADIUM, "gateId": gate,
                    "ts": (start + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z"),
                    "perMinuteCount": 30 + i % 20, "avgProcessingTime": 6.0, "queueLength": (i * 7) % 300,
                    "openLanes": 8})
    return out


def post_all(url: str, readings: list[dict], seed: int) -> tuple[int, int]:
    rng = random.Random(seed)
    session = requests.Session()
    session.headers.update(write_headers("flow"))
    accepted = duplicates = 0
    i = 0
    while i < len(readings):
        if rng.random() < 0.3:
            chunk = readings[i:i + 1]
            resp = session.post(url, json=chunk[0], timeout=30)
        else:
            size = rng.randint(20, 400)
            chunk = readings[i:i + size]
            if i and rng.random() < 0.3:
                chunk = readings[max(0, i - 10):i] + chunk  # some repeated readings
            resp = session.post(url, json={"readings": chunk}, timeout=30)
        assert resp.status_code == 202, resp.text
        accepted += resp.json()["accepted"]
        duplicates += resp.json()["duplicates"]
        i += len(chunk) if len(chunk) == 1 else size
    return accepted, duplicates


@pytest.mark.slow
def test_four_clients_twenty_thousand_readings(flow_store_uri, tmp_path):
    port = free_port()
    db = tmp_path / "state.sqlite3"
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": "2",
           "MODEL_STORE_URI": flow_store_uri, "MODEL_CACHE_DIR": str(tmp_path / "cache"),
           "FLOW_SQLITE_PATH": str(db), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"), "LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", "services/common/gunicorn_conf.py",
                             "services.flow.api:create_app()"], cwd=ROOT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}/api/flow"
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            try:
                if requests.get(base + "/ready", timeout=2).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):  # still starting (a loaded machine is slow)
                pass
            time.sleep(0.3)
        else:
            pytest.fail("flow under gunicorn never became ready")
        start = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(days=1)
        per_client = [readings_for(c, 5000, start) for c in range(4)]
        started = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda c: post_all(base + "/ingest", per_client[c], c), range(4)))
        elapsed = time.perf_counter() - started
        print(f"\n20,000 readings from 4 clients in {elapsed:.1f} s ({20000 / elapsed:,.0f} readings/s)")
        assert sum(a for a, _ in results) == 20_000
        assert SqliteStateStore(db).count_readings(STADIUM) == 20_000
        status = requests.get(base + "/status", params={"stadiumId": STADIUM}, timeout=10).json()
        newest = {}
        for rs in per_client:
            for r in rs:
                newest[r["gateId"]] = max(newest.get(r["gateId"], r), r, key=lambda x: x["ts"])
        for gate in status["gates"]:
            want = newest[gate["gateId"]]
            assert gate["last_updated"] == want["ts"] and gate["queueLength"] == want["queueLength"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
