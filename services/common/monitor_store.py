"""Where monitoring lives across every worker and task: SQLite locally, DynamoDB in AWS.

Both stores keep, per model version: when it went live, how many requests it answered, and
its input counts per feature and bucket (added, never overwritten: every worker adds its own
deltas, so counts aggregate over workers and tasks); and every actual once, keyed by the
service's key, with the losses of the model and of the baseline on it. An actual and its
contribution to the error sums are written in one transaction, so a repeat can neither be
counted twice nor leave a half-written record. A flush writes its counts before its requests.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol


@dataclass
class Scored:
    """One actual, scored: the losses of the served model and of its baseline on that row."""

    key: str
    version: str
    day: str                 # UTC day the actual arrived, YYYY-MM-DD (the chart's x axis)
    body: str                # the actual as received, canonical JSON (a repeat must match it)
    record: dict[str, Any]   # what the API answers for it (predictions, errors, in_training)
    weight: float
    model_loss: float
    baseline_loss: float
    in_training: bool


class Conflict(Exception):
    def __init__(self, key: str, existing: dict[str, Any]):
        super().__init__(key)
        self.key, self.existing = key, existing


class MonitorStore(Protocol):
    """`add` may fail partway; the caller keeps the same dicts and retries them, so a store that is not
    all-or-nothing removes from `counts` what it has added (DynamoMonitorStore)."""

    def add(self, counts: dict[tuple[str, str], dict[str, int]], requests: dict[str, int],
            live_since: dict[str, str]) -> None: ...
    def versions(self) -> dict[str, dict[str, Any]]: ...
    def counts(self, version: str, features: list[str]) -> dict[str, dict[str, int]]: ...
    def put_actual(self, scored: Scored) -> tuple[bool, dict[str, Any]]: ...
    def errors(self, version: str) -> list[dict[str, Any]]: ...
    def check(self) -> str | None: ...


class SqliteMonitorStore:
    """One file in WAL mode, shared by every worker process; a connection per thread and process."""

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS versions (
        version TEXT PRIMARY KEY, live_since TEXT NOT NULL, requests INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS counts (
        version TEXT NOT NULL, feature TEXT NOT NULL, bucket TEXT NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (version, feature, bucket)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS actuals (
        key TEXT PRIMARY KEY, version TEXT NOT NULL, day TEXT NOT NULL, received_at REAL NOT NULL,
        body TEXT NOT NULL, record TEXT NOT NULL, weight REAL NOT NULL, model_loss REAL NOT NULL,
        baseline_loss REAL NOT NULL, in_training INTEGER NOT NULL) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS actuals_by_version ON actuals (version, day);
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()  # connections open on first use: a worker starts whatever the file's state

    def describe(self) -> str:
        return f"sqlite:{self.path}"

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=True)
            conn.execute("PRAGMA busy_timeout=10000")
            for attempt in range(50):  # two workers opening a new file at once: switching to WAL can be refused
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError:
                    if attempt == 49:
                        raise
                    time.sleep(0.05)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(self.SCHEMA)
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def add(self, counts, requests, live_since) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for version, since in live_since.items():
                conn.execute("INSERT OR IGNORE INTO versions (version, live_since) VALUES (?, ?)", (version, since))
            for version, n in requests.items():
                conn.execute("INSERT INTO versions (version, live_since, requests) VALUES (?, ?, ?) "
                             "ON CONFLICT(version) DO UPDATE SET requests = requests + excluded.requests",
                             (version, live_since.get(version, ""), n))
            for (version, feature), buckets in counts.items():
                conn.executemany(
                    "INSERT INTO counts VALUES (?, ?, ?, ?) ON CONFLICT(version, feature, bucket) "
                    "DO UPDATE SET n = n + excluded.n",
                    [(version, feature, bucket, n) for bucket, n in buckets.items()])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def versions(self) -> dict[str, dict[str, Any]]:
        rows = self._conn().execute("SELECT version, live_since, requests FROM versions").fetchall()
        return {v: {"live_since": s, "requests": int(n)} for v, s, n in rows}

    def counts(self, version: str, features: list[str]) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {f: {} for f in features}
        for feature, bucket, n in self._conn().execute(
                "SELECT feature, bucket, n FROM counts WHERE version = ?", (version,)):
            if feature in out:
                out[feature][bucket] = int(n)
        return out

    def put_actual(self, scored: Scored) -> tuple[bool, dict[str, Any]]:
        """(True, record) when stored; (False, record) for an identical repeat; Conflict otherwise."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT body, record FROM actuals WHERE key = ?", (scored.key,)).fetchone()
            if row is None:
                conn.execute("INSERT INTO actuals VALUES (?,?,?,?,?,?,?,?,?,?)",
                             (scored.key, scored.version, scored.day, time.time(), scored.body,
                              json.dumps(scored.record), scored.weight, scored.model_loss, scored.baseline_loss,
                              int(scored.in_training)))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if row is None:
            return True, scored.record
        existing = json.loads(row[1])
        if row[0] != scored.body:
            raise Conflict(scored.key, existing)
        return False, existing

    def errors(self, version: str) -> list[dict[str, Any]]:
        rows = self._conn().execute(
            "SELECT day, COUNT(*), SUM(weight), SUM(weight * model_loss), SUM(weight * baseline_loss), "
            "SUM(in_training) FROM actuals WHERE version = ? GROUP BY day ORDER BY day", (version,)).fetchall()
        return [{"day": d, "n": int(n), "weight": float(w), "model": float(m), "baseline": float(b),
                 "in_training": int(t)} for d, n, w, m, b, t in rows]

    def check(self) -> str | None:
        try:
            self._conn().execute("SELECT 1 FROM versions LIMIT 1").fetchall()
            return None
        except sqlite3.Error as exc:
            return f"monitoring store {self.path} unusable: {exc}"


def _n(value: float | int) -> dict[str, str]:
    """A DynamoDB number; floats as their shortest round-trip text."""
    return {"N": str(int(value)) if isinstance(value, int) else repr(float(value))}


class DynamoMonitorStore:
    """One table per service with a string partition key `pk` (the terraform dynamodb module's):

    - `VERSIONS`: per version, `since#<v>` (first write wins) and `requests#<v>` (ADD);
    - `COUNTS#<v>#<feature>`: one number attribute per bucket (ADD: atomic across tasks);
    - `ERRORS#<v>`: per UTC day, `n#`, `w#`, `m#`, `b#`, `t#` + day (ADD);
    - `ACTUAL#<key>`: the actual and its scored record, written once (conditional put), in one
      transaction with its ADD to `ERRORS#<v>`.
    A flush ADDs to every `COUNTS#...` item, then to `VERSIONS` once.
    Every read is a GetItem or a BatchGetItem: no scans.
    """

    def __init__(self, table: str, client=None):
        import boto3
        from botocore.config import Config

        self.table = table
        self.client = client or boto3.client("dynamodb", config=Config(connect_timeout=2, read_timeout=5,
                                                                       retries={"max_attempts": 2}))

    def describe(self) -> str:
        return f"dynamodb:{self.table}"

    @staticmethod
    def _adds(values: dict[str, float | int]) -> dict[str, Any]:
        names, vals, parts = {}, {}, []
        for i, (attr, value) in enumerate(values.items()):
            names[f"#a{i}"], vals[f":v{i}"] = attr, _n(value)
            parts.append(f"#a{i} :v{i}")
        return {"UpdateExpression": "ADD " + ", ".join(parts), "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": vals}

    def add(self, counts, requests, live_since) -> None:
        """Every count item first, then VERSIONS (the requests and live times) in one update: a reader
        never sees a flush's requests without its drift counts. Not one transaction: moto's threaded
        server, which the container tier runs the images against, fails concurrent transactions (see
        tests/monitoring/conftest.py), and both workers flush at once when a task stops. So each count
        item is removed from `counts` once it is added: a flush that fails halfway is retried with
        what is left, and no item is added twice."""
        for (version, feature), buckets in list(counts.items()):
            if buckets:
                self.client.update_item(TableName=self.table, Key={"pk": {"S": f"COUNTS#{version}#{feature}"}},
                                        **self._adds({b: int(n) for b, n in buckets.items()}))
            del counts[(version, feature)]
        if requests or live_since:
            self.client.update_item(TableName=self.table, Key={"pk": {"S": "VERSIONS"}},
                                    **self._versions_update(requests, live_since))

    @classmethod
    def _versions_update(cls, requests: dict[str, int], live_since: dict[str, str]) -> dict[str, Any]:
        """`_adds` of the requests, with a SET of each version's first live time (first write wins)."""
        update = cls._adds({f"requests#{v}": int(n) for v, n in requests.items()}) if requests else {
            "UpdateExpression": "", "ExpressionAttributeNames": {}, "ExpressionAttributeValues": {}}
        sets = []
        for i, (version, since) in enumerate(live_since.items()):
            update["ExpressionAttributeNames"][f"#s{i}"] = f"since#{version}"
            update["ExpressionAttributeValues"][f":s{i}"] = {"S": since}
            sets.append(f"#s{i} = if_not_exists(#s{i}, :s{i})")
        if sets:
            update["UpdateExpression"] = f"SET {', '.join(sets)} {update['UpdateExpression']}".strip()
        return update

    def versions(self) -> dict[str, dict[str, Any]]:
        item = self.client.get_item(TableName=self.table, Key={"pk": {"S": "VERSIONS"}},
                                    ConsistentRead=True).get("Item", {})
        out: dict[str, dict[str, Any]] = {}
        for attr, value in item.items():
            kind, _, version = attr.partition("#")
            if kind == "since":
                out.setdefault(version, {"requests": 0})["live_since"] = value["S"]
            elif kind == "requests":
                out.setdefault(version, {"live_since": ""})["requests"] = int(value["N"])
        return out

    def counts(self, version: str, features: list[str]) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {f: {} for f in features}
        keys = [{"pk": {"S": f"COUNTS#{version}#{f}"}} for f in features]
        prefix = len(f"COUNTS#{version}#")
        for i in range(0, len(keys), 100):
            request = {self.table: {"Keys": keys[i:i + 100], "ConsistentRead": True}}
            while request:
                resp = self.client.batch_get_item(RequestItems=request)
                for item in resp["Responses"].get(self.table, []):
                    feature = item.pop("pk")["S"][prefix:]
                    out[feature] = {b: int(v["N"]) for b, v in item.items()}
                request = resp.get("UnprocessedKeys") or None
        return out

    def put_actual(self, scored: Scored) -> tuple[bool, dict[str, Any]]:
        key = {"pk": {"S": f"ACTUAL#{scored.key}"}}
        day = scored.day
        adds = self._adds({f"n#{day}": 1, f"w#{day}": scored.weight, f"m#{day}": scored.weight * scored.model_loss,
                           f"b#{day}": scored.weight * scored.baseline_loss, f"t#{day}": int(scored.in_training)})
        items = [
            {"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(pk)",
                     "Item": {**key, "version": {"S": scored.version}, "body": {"S": scored.body},
                              "record": {"S": json.dumps(scored.record)}, "received_at": _n(time.time())}}},
            {"Update": {"TableName": self.table, "Key": {"pk": {"S": f"ERRORS#{scored.version}"}}, **adds}},
        ]
        for attempt in range(8):
            try:
                self.client.transact_write_items(TransactItems=items)
                return True, scored.record
            except self.client.exceptions.TransactionCanceledException as exc:
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    break                       # the key is stored: a repeat or a conflict
                if "TransactionConflict" not in reasons or attempt == 7:
                    raise
                time.sleep(0.01 * 2 ** attempt)  # another actual is adding to the same day's sums: retry
        item = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True)["Item"]
        existing = json.loads(item["record"]["S"])
        if item["body"]["S"] != scored.body:
            raise Conflict(scored.key, existing)
        return False, existing

    def errors(self, version: str) -> list[dict[str, Any]]:
        item = self.client.get_item(TableName=self.table, Key={"pk": {"S": f"ERRORS#{version}"}},
                                    ConsistentRead=True).get("Item", {})
        days: dict[str, dict[str, Any]] = {}
        names = {"n": "n", "w": "weight", "m": "model", "b": "baseline", "t": "in_training"}
        for attr, value in item.items():
            kind, _, day = attr.partition("#")
            if kind in names:
                number = Decimal(value["N"])
                days.setdefault(day, {"day": day})[names[kind]] = int(number) if kind in "nt" else float(number)
        return [days[d] for d in sorted(days)]

    def check(self) -> str | None:
        try:
            status = self.client.describe_table(TableName=self.table)["Table"]["TableStatus"]
            return None if status in ("ACTIVE", "UPDATING") else f"DynamoDB table {self.table} is {status}"
        except Exception as exc:  # any failure: the reason, never an exception (monitoring must not take the service down)
            return f"DynamoDB table {self.table} unusable: {exc}"
