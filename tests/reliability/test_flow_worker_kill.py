"""A gunicorn worker killed in the middle of ingest load loses no reading that got a 202."""
from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from services.gateway import built_services
from tests.conftest import write_headers
from tests.conftest import GunicornServer

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif("flow" not in built_services(), reason="flow service not built")]
STADIUM = "TANGIER"


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def test_killed_worker_loses_no_accepted_reading(small_models, tmp_path):
    small_models.publish("flow")
    db = tmp_path / "state.sqlite3"
    env = {"MODEL_STORE_URI": small_models.uri, "MODEL_CACHE_DIR": str(tmp_path / "cache"),
           "FLOW_SQLITE_PATH": str(db), "TMPDIR": str(tmp_path), "LOG_LEVEL": "WARNING"}
    start = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(days=1)
    accepted: set[tuple[str, str, int]] = set()
    errors: list[str] = []
    stop = threading.Event()

    def client(number: int) -> None:
        session = requests.Session()
        minute = 0
        while not stop.is_set():
            batch = []
            for gate in range(1, 14):
                ts = start + timedelta(minutes=minute, seconds=number)
                batch.append({"stadiumId": STADIUM, "gateId": f"G{gate}",
                              "ts": ts.isoformat().replace("+00:00", "Z"), "perMinuteCount": 40,
                              "avgProcessingTime": 6.0, "queueLength": 50, "openLanes": 6})
            minute += 1
            try:
                resp = session.post(f"{server.url}/api/flow/ingest", headers=write_headers("flow"), json={"readings": batch}, timeout=10)
            except requests.RequestException as exc:  # the killed worker's connection: not acknowledged
                errors.append(type(exc).__name__)
                session = requests.Session()
                continue
            if resp.status_code == 202:
                for r in batch:
                    ts = datetime.fromisoformat(r["ts"].replace("Z", "+00:00"))
                    accepted.add((STADIUM, r["gateId"], int(ts.timestamp() * 1000)))

    with GunicornServer("services.flow.api:create_app()", env) as server:
        server.wait_ready("/api/flow/ready")
        threads = [threading.Thread(target=client, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        victim = worker_pids(server.proc.pid)[0]
        os.kill(victim, signal.SIGKILL)
        time.sleep(2.5)  # gunicorn replaces the worker; load continues
        stop.set()
        for t in threads:
            t.join()
        assert victim not in worker_pids(server.proc.pid)
        assert requests.get(server.url + "/api/flow/ready", timeout=5).status_code == 200

    with sqlite3.connect(db) as conn:
        stored = set(conn.execute("SELECT stadium, gate, ts_ms FROM readings").fetchall())
    assert len(accepted) > 500, f"too little load: {len(accepted)} readings acknowledged"
    missing = accepted - stored
    assert not missing, f"{len(missing)} acknowledged readings lost, e.g. {sorted(missing)[:3]}"
