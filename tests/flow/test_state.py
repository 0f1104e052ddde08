"""The same state tests against SQLite and against DynamoDB (moto server)."""
from __future__ import annotations

import socket
import threading
import time
import uuid

import pytest

from services.flow.features import WINDOW
from services.flow.state import DynamoStateStore, SqliteStateStore

T0 = 1_766_340_000_000  # 2025-12-21T18:00:00Z in ms


def reading(ts_min: int, gate: str = "G1", stadium: str = "RABAT", queue: int = 10, **kw) -> dict:
    r = {"stadium": stadium, "gate": gate, "ts_ms": T0 + ts_min * 60_000, "count": 30, "proc": 6.5,
         "queue": queue, "lanes": 8}
    r.update(kw)
    return r


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return SqliteStateStore(tmp_path / "state.sqlite3")
    import boto3

    request.getfixturevalue("moto_server")
    table = f"flow-state-{uuid.uuid4().hex[:8]}"
    client = boto3.client("dynamodb")
    client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    return DynamoStateStore(table, client=client)


def test_ingest_counts_and_is_idempotent(store):
    assert store.check() is None
    assert store.ingest([reading(0), reading(1), reading(1, gate="G2")]) == (3, 0)
    assert store.ingest([reading(1), reading(2), reading(2)]) == (1, 2)
    assert store.count_readings() == 4 and store.count_readings("RABAT") == 4 and store.count_readings("FES") == 0


def test_duplicate_does_not_change_stored_values(store):
    store.ingest([reading(0, queue=10)])
    assert store.ingest([reading(0, queue=999)]) == (0, 1)
    assert store.windows("RABAT", ["G1"])["G1"][-1].queue == 10


def test_older_reading_never_overwrites_the_state(store):
    store.ingest([reading(5, queue=50)])
    store.ingest([reading(3, queue=30)])
    window = store.windows("RABAT", ["G1"])["G1"]
    assert window[-1].ts_ms == T0 + 5 * 60_000 and window[-1].queue == 50
    assert [r.ts_ms for r in window] == sorted(r.ts_ms for r in window)


def test_window_keeps_the_newest_readings_per_gate(store):
    store.ingest([reading(m, queue=m) for m in range(WINDOW + 4)])
    store.ingest([reading(0, gate="G2", queue=7)])
    windows = store.windows("RABAT", ["G1", "G2", "G3"])
    assert set(windows) == {"G1", "G2"}
    assert [r.queue for r in windows["G1"]] == list(range(4, WINDOW + 4))
    assert windows["G2"][-1].queue == 7
    assert store.windows("FES", ["G1"]) == {}


def test_concurrent_writers_lose_nothing(store):
    def work(k: int):
        for m in range(10):
            store.ingest([reading(m, gate=f"G{k % 3 + 1}", queue=m), reading(m, gate="G4", queue=m)])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count_readings() == 3 * 10 + 10
    windows = store.windows("RABAT", ["G1", "G2", "G3", "G4"])
    for gate in ("G1", "G2", "G3", "G4"):
        assert windows[gate][-1].queue == 9
        # a minute that lost the race to a later one is stored but stays out of the window (in order, no repeats)
        ts = [r.ts_ms for r in windows[gate]]
        assert ts == sorted(set(ts)) and 1 <= len(ts) <= min(WINDOW, 10)


def test_a_late_reading_is_stored_but_stays_out_of_the_window(store):
    store.ingest([reading(m, queue=10 * m) for m in (0, 1, 2, 4)])
    assert store.ingest([reading(3, queue=999)]) == (1, 0)
    assert store.count_readings() == 5
    assert [r.ts_ms for r in store.windows("RABAT", ["G1"])["G1"]] == [T0 + m * 60_000 for m in (0, 1, 2, 4)]


def test_sqlite_prunes_readings_and_silent_gates_by_age(tmp_path):
    store = SqliteStateStore(tmp_path / "state.sqlite3", retention_hours=1.0)
    store.ingest([reading(0), reading(1), reading(0, gate="G2")])
    now = int(time.time() * 1000)
    store.ingest([reading(2)])   # received now
    conn = store._conn()
    conn.execute("UPDATE readings SET received_ms = ? WHERE ts_ms < ?", (now - 2 * 3600_000, T0 + 2 * 60_000))
    conn.execute("UPDATE gates SET received_ms = ? WHERE gate = 'G2'", (now - 2 * 3600_000,))
    assert store.prune(now) == 3
    assert store.count_readings() == 1
    assert set(store.windows("RABAT", ["G1", "G2"])) == {"G1"}


def test_dynamodb_gate_items_expire_like_their_readings(moto_server):
    import boto3

    client = boto3.client("dynamodb")
    table = f"flow-state-{uuid.uuid4().hex[:8]}"
    client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    DynamoStateStore(table, retention_hours=2.0, client=client).ingest([reading(0)])
    item = client.get_item(TableName=table, Key={"pk": {"S": "G#RABAT#G1"}})["Item"]
    assert abs(int(item["expires_at"]["N"]) - (time.time() + 7200)) < 60


def test_dynamodb_check_is_short_and_reports_a_stalled_endpoint(aws_env):
    """A TCP endpoint that accepts and never answers (a real socket, standing in for a slow DynamoDB)."""
    import boto3
    from botocore.config import Config

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    endpoint = f"http://127.0.0.1:{server.getsockname()[1]}"
    try:
        slow = boto3.client("dynamodb", endpoint_url=endpoint,
                            config=Config(connect_timeout=0.5, read_timeout=0.5, retries={"max_attempts": 1}))
        store = DynamoStateStore("flow-state", client=slow, check_client=slow)
        started = time.monotonic()
        problem = store.check()
        assert time.monotonic() - started < 3
        assert problem and "flow-state" in problem and "Timeout" in problem
    finally:
        server.close()


def test_dynamodb_check_reports_a_missing_table(moto_server):
    import boto3

    store = DynamoStateStore("no-such-table", client=boto3.client("dynamodb"), check_client=boto3.client("dynamodb"))
    assert "no-such-table" in store.check() and "ResourceNotFound" in store.check()
