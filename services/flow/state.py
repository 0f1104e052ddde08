"""Gate state shared by every worker process and task: SQLite (WAL) locally, DynamoDB in AWS.

Both stores keep every reading once, keyed by (stadiumId, gateId, ts): a repeated reading is
counted as a duplicate and changes nothing. Each gate's state is its newest reading; a reading
older than it is stored (and counted) but never enters the gate's window, so it neither shows on
the board nor changes its prediction. `windows` returns, per gate, the newest in-order readings up
to the feature window, oldest first, for the shared feature function. Readings expire after
`retention_hours` in both stores (DynamoDB's TTL; SQLite prunes on ingest), and so does a gate that
has sent nothing for that long.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Iterable, Protocol

from .features import WINDOW, Reading


class StoredReading(dict):
    """stadium, gate, ts_ms, count, proc, queue, lanes."""


class StateStore(Protocol):
    def ingest(self, readings: list[dict]) -> tuple[int, int]: ...
    def windows(self, stadium: str, gates: Iterable[str]) -> dict[str, list[Reading]]: ...
    def count_readings(self, stadium: str | None = None) -> int: ...
    def check(self) -> str | None: ...


def _reading(r: dict) -> Reading:
    return Reading(int(r["ts_ms"]), int(r["count"]), float(r["proc"]), int(r["queue"]), int(r["lanes"]))


class SqliteStateStore:
    """One file in WAL mode; a connection per thread and process (gunicorn forks after import)."""

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS readings (
        stadium TEXT NOT NULL, gate TEXT NOT NULL, ts_ms INTEGER NOT NULL,
        count INTEGER NOT NULL, proc REAL NOT NULL, queue INTEGER NOT NULL, lanes INTEGER NOT NULL,
        received_ms INTEGER NOT NULL, in_order INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (stadium, gate, ts_ms)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS gates (
        stadium TEXT NOT NULL, gate TEXT NOT NULL, ts_ms INTEGER NOT NULL, received_ms INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (stadium, gate)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS state_version (id INTEGER PRIMARY KEY CHECK (id = 0), v INTEGER NOT NULL);
    INSERT OR IGNORE INTO state_version VALUES (0, 0);
    CREATE INDEX IF NOT EXISTS readings_received ON readings (received_ms);
    """
    PRUNE_EVERY_S = 60.0

    def __init__(self, path: Path, retention_hours: float = 48.0):
        self.retention_ms = int(retention_hours * 3600 * 1000)
        self._pruned_at = 0.0
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        conn = self._conn()
        conn.executescript(self.SCHEMA.split("CREATE INDEX")[0])
        # files from before in-order windows and pruning get the new columns
        for table, column in (("readings", "in_order INTEGER NOT NULL DEFAULT 1"),
                              ("gates", "received_ms INTEGER NOT NULL DEFAULT 0")):
            if column.split()[0] not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
        conn.executescript("CREATE INDEX" + self.SCHEMA.split("CREATE INDEX")[1])

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=True)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def ingest(self, readings: list[dict]) -> tuple[int, int]:
        conn = self._conn()
        now = int(time.time() * 1000)
        accepted = 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            # within a batch, oldest first: a batch of minutes 1..10 is ten in-order readings
            for r in sorted(readings, key=lambda r: r["ts_ms"]):
                row = conn.execute("SELECT ts_ms FROM gates WHERE stadium = ? AND gate = ?",
                                   (r["stadium"], r["gate"])).fetchone()
                in_order = row is None or r["ts_ms"] > row[0]
                cur = conn.execute(
                    "INSERT OR IGNORE INTO readings VALUES (?,?,?,?,?,?,?,?,?)",
                    (r["stadium"], r["gate"], r["ts_ms"], r["count"], r["proc"], r["queue"], r["lanes"], now,
                     int(in_order)))
                if cur.rowcount == 1:
                    accepted += 1
                    if in_order:  # the gate's state moves only forward in time
                        conn.execute("INSERT INTO gates VALUES (?,?,?,?) ON CONFLICT(stadium, gate) DO UPDATE "
                                     "SET ts_ms = excluded.ts_ms, received_ms = excluded.received_ms",
                                     (r["stadium"], r["gate"], r["ts_ms"], now))
            if accepted:  # in the same transaction: a reader that sees the new version sees these rows
                conn.execute(self.BUMP_SQL)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if time.monotonic() - self._pruned_at > self.PRUNE_EVERY_S:
            self.prune(now)
        return accepted, len(readings) - accepted

    def prune(self, now_ms: int | None = None) -> int:
        """Drop readings received more than retention_hours ago, and gates silent that long (DynamoDB's TTL)."""
        self._pruned_at = time.monotonic()
        cutoff = (now_ms if now_ms is not None else int(time.time() * 1000)) - self.retention_ms
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            gone = conn.execute("DELETE FROM readings WHERE received_ms < ?", (cutoff,)).rowcount
            gone_gates = conn.execute("DELETE FROM gates WHERE received_ms < ?", (cutoff,)).rowcount
            if gone or gone_gates:
                conn.execute(self.BUMP_SQL)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return gone

    BUMP_SQL = "UPDATE state_version SET v = v + 1 WHERE id = 0"

    def version(self) -> int:
        """A number that changes with every write that can change a window (an accepted reading, a prune
        that removed something), in the file itself, so it holds across connections, threads and worker
        processes: /status recomputes a stadium's predictions only when it moved. One primary-key read."""
        return self._conn().execute("SELECT v FROM state_version WHERE id = 0").fetchone()[0]

    # One gate's window: its newest in-order readings up to its state's reading (primary-key seeks).
    WINDOW_SQL = ("SELECT * FROM (SELECT ? AS gate, ts_ms, count, proc, queue, lanes FROM readings "
                  "WHERE stadium = ? AND gate = ? AND in_order = 1 AND ts_ms <= "
                  "(SELECT ts_ms FROM gates WHERE stadium = ? AND gate = ?) ORDER BY ts_ms DESC LIMIT ?)")
    GATES_PER_QUERY = 100   # compound SELECTs are limited to 500 terms

    def windows(self, stadium: str, gates: Iterable[str]) -> dict[str, list[Reading]]:
        """Every wanted gate's window in one statement per 100 gates (a UNION ALL of the per-gate
        queries): /status reads all gates of a stadium, and one query per gate was 13 round trips."""
        conn = self._conn()
        wanted = list(dict.fromkeys(gates))
        out: dict[str, list[Reading]] = {}
        for start in range(0, len(wanted), self.GATES_PER_QUERY):
            part = wanted[start:start + self.GATES_PER_QUERY]
            params: list = []
            for gate in part:
                params += (gate, stadium, gate, stadium, gate, WINDOW)
            for row in conn.execute(" UNION ALL ".join([self.WINDOW_SQL] * len(part)), params).fetchall():
                window = out.get(row[0])
                if window is None:
                    window = out[row[0]] = []
                window.append(Reading._make(row[1:]))
        for window in out.values():
            window.sort()  # oldest first (by ts_ms, the first field)
        return out

    def count_readings(self, stadium: str | None = None) -> int:
        conn = self._conn()
        if stadium is None:
            return conn.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
        return conn.execute("SELECT COUNT(*) FROM readings WHERE stadium = ?", (stadium,)).fetchone()[0]

    def check(self) -> str | None:
        try:
            self._conn().execute("SELECT 1 FROM gates LIMIT 1").fetchall()
            return None
        except sqlite3.Error as exc:
            return f"state store {self.path} unusable: {exc}"


class DynamoStateStore:
    """One table, partition key `pk` (the terraform module's): `R#stadium#gate#ts` per reading
    (conditional put: a duplicate fails the condition) and `G#stadium#gate` per gate holding the
    window as JSON and a version for optimistic concurrency; readings expire via `expires_at`."""

    shared_dependency = True   # one table behind every task: its failures degrade, they do not unready a task

    def __init__(self, table: str, retention_hours: float = 48.0, client=None, check_client=None,
                 check_timeout_s: float = 1.0):
        import boto3
        from botocore.config import Config

        self.table = table
        self.retention_s = int(retention_hours * 3600)
        self.client = client or boto3.client("dynamodb", config=Config(connect_timeout=2, read_timeout=5,
                                                                       retries={"max_attempts": 3}))
        # the readiness probe gets one short try: a load balancer's health check must not wait on retries
        self.check_client = check_client or boto3.client(
            "dynamodb", config=Config(connect_timeout=check_timeout_s, read_timeout=check_timeout_s,
                                      retries={"max_attempts": 1, "mode": "standard"}))

    def _put_reading(self, r: dict, expires: int) -> bool:
        try:
            self.client.put_item(
                TableName=self.table,
                Item={"pk": {"S": f"R#{r['stadium']}#{r['gate']}#{r['ts_ms']:014d}"},
                      "stadium": {"S": r["stadium"]}, "gate": {"S": r["gate"]}, "ts_ms": {"N": str(r["ts_ms"])},
                      "reading": {"S": json.dumps([r["ts_ms"], r["count"], r["proc"], r["queue"], r["lanes"]])},
                      "expires_at": {"N": str(expires)}},
                ConditionExpression="attribute_not_exists(pk)")
            return True
        except self.client.exceptions.ConditionalCheckFailedException:
            return False

    def _merge_gate(self, stadium: str, gate: str, new: list[list]) -> None:
        key = {"pk": {"S": f"G#{stadium}#{gate}"}}
        for _ in range(50):
            item = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
            window = json.loads(item["window"]["S"]) if item else []
            version = int(item["version"]["N"]) if item else 0
            newest = window[-1][0] if window else -1
            later = []
            for row in sorted(new, key=lambda row: row[0]):
                if row[0] > (later[-1][0] if later else newest):
                    later.append(row)
            if not later:
                return  # everything new is older than the gate's newest: it neither shows nor counts
            merged = (window + later)[-WINDOW:]
            values = {":w": {"S": json.dumps(merged)}, ":ts": {"N": str(merged[-1][0])},
                      ":v": {"N": str(version + 1)}, ":s": {"S": stadium},
                      ":e": {"N": str(int(time.time()) + self.retention_s)}}
            if item:
                condition, values[":old"] = "version = :old", {"N": str(version)}
            else:
                condition = "attribute_not_exists(pk)"
            try:
                self.client.update_item(
                    TableName=self.table, Key=key,
                    UpdateExpression="SET #w = :w, ts_ms = :ts, version = :v, stadium = :s, expires_at = :e",
                    ConditionExpression=condition, ExpressionAttributeNames={"#w": "window"},
                    ExpressionAttributeValues=values)
                return
            except self.client.exceptions.ConditionalCheckFailedException:
                time.sleep(0.005)
        raise RuntimeError(f"gate {stadium}/{gate}: too much contention updating its state")

    def ingest(self, readings: list[dict]) -> tuple[int, int]:
        expires = int(time.time()) + self.retention_s
        fresh: dict[tuple[str, str], list[list]] = {}
        for r in readings:
            if self._put_reading(r, expires):
                fresh.setdefault((r["stadium"], r["gate"]), []).append(
                    [r["ts_ms"], r["count"], r["proc"], r["queue"], r["lanes"]])
        for (stadium, gate), rows in fresh.items():
            self._merge_gate(stadium, gate, rows)
        accepted = sum(len(v) for v in fresh.values())
        return accepted, len(readings) - accepted

    def windows(self, stadium: str, gates: Iterable[str]) -> dict[str, list[Reading]]:
        keys = [{"pk": {"S": f"G#{stadium}#{g}"}} for g in gates]
        out: dict[str, list[Reading]] = {}
        for i in range(0, len(keys), 100):
            request = {self.table: {"Keys": keys[i:i + 100], "ConsistentRead": True}}
            while request:
                resp = self.client.batch_get_item(RequestItems=request)
                for item in resp["Responses"].get(self.table, []):
                    gate = item["pk"]["S"].split("#", 2)[2]
                    out[gate] = [Reading(int(r[0]), int(r[1]), float(r[2]), int(r[3]), int(r[4]))
                                 for r in json.loads(item["window"]["S"])]
                request = resp.get("UnprocessedKeys") or None
        return out

    def count_readings(self, stadium: str | None = None) -> int:
        prefix = f"R#{stadium}#" if stadium else "R#"
        total, kwargs = 0, {}
        while True:
            resp = self.client.scan(TableName=self.table, Select="COUNT",
                                    FilterExpression="begins_with(pk, :p)",
                                    ExpressionAttributeValues={":p": {"S": prefix}}, **kwargs)
            total += resp["Count"]
            if "LastEvaluatedKey" not in resp:
                return total
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def check(self) -> str | None:
        """One short DescribeTable; the caller reports a failure as degraded, not as not ready."""
        try:
            status = self.check_client.describe_table(TableName=self.table)["Table"]["TableStatus"]
            return None if status in ("ACTIVE", "UPDATING") else f"DynamoDB table {self.table} is {status}"
        except Exception as exc:  # any failure (timeout, throttling, missing table) is reported with its reason
            return f"DynamoDB table {self.table} unusable: {type(exc).__name__}: {exc}"
