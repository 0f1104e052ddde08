"""The DynamoDB monitoring store's flush (on the serial moto server, the real DynamoDB API): its drift
counts are in before its requests are, so a reader that sees a flush's requests sees its counts (the
race tests/monitoring/test_gunicorn.py once hit: 480 requests counted, 477 Temperature observations)."""
from __future__ import annotations

import boto3
import pytest

from services.common.monitor_store import DynamoMonitorStore
from tests.monitoring.conftest import create_table


class Recording:
    """A boto3 DynamoDB client that records the items its writes touch, in order."""

    def __init__(self, client):
        self.client, self.written = client, []

    def __getattr__(self, name):
        attr = getattr(self.client, name)
        if name != "update_item":
            return attr

        def call(**kwargs):
            self.written.append(kwargs["Key"]["pk"]["S"])
            return attr(**kwargs)
        return call


@pytest.fixture
def store(serial_moto):
    client = Recording(boto3.client("dynamodb", endpoint_url=serial_moto))
    return DynamoMonitorStore(create_table(serial_moto), client=client), client


def counts() -> dict:
    """A flush's counts, fresh each time: DynamoMonitorStore.add removes what it has added."""
    return {("v1", "x"): {"b0": 3, "b1": 2}, ("v1", "color"): {"red": 5}}


def test_a_flush_writes_its_counts_then_its_requests_once(store):
    db, client = store
    db.add(counts(), {"v1": 5}, {"v1": "2026-12-07T10:00:00+00:00"})
    assert client.written == ["COUNTS#v1#x", "COUNTS#v1#color", "VERSIONS"]
    assert db.versions() == {"v1": {"requests": 5, "live_since": "2026-12-07T10:00:00+00:00"}}
    assert db.counts("v1", ["x", "color"]) == {"x": {"b0": 3, "b1": 2}, "color": {"red": 5}}


def test_counts_and_requests_add_up_and_the_first_live_time_stays(store):
    db, client = store
    db.add(counts(), {"v1": 5}, {"v1": "2026-12-07T10:00:00+00:00"})
    db.add({("v1", "x"): {"b0": 1}}, {"v1": 1}, {"v1": "2026-12-07T11:00:00+00:00", "v2": "2026-12-07T11:00:00+00:00"})
    db.add({}, {"v2": 2}, {})
    assert db.versions() == {"v1": {"requests": 6, "live_since": "2026-12-07T10:00:00+00:00"},
                             "v2": {"requests": 2, "live_since": "2026-12-07T11:00:00+00:00"}}
    assert db.counts("v1", ["x"])["x"] == {"b0": 4, "b1": 2}
    assert client.written[-1] == "VERSIONS" and client.written.count("VERSIONS") == 3


class FailingOnce(Recording):
    """Records like Recording; its first update of item `pk` fails (a throttled or dropped request)."""

    def __init__(self, client, pk: str):
        super().__init__(client)
        self.pk, self.failed = pk, False

    def __getattr__(self, name):
        call = super().__getattr__(name)
        if name != "update_item":
            return call

        def failing(**kwargs):
            if kwargs["Key"]["pk"]["S"] == self.pk and not self.failed:
                self.failed = True
                raise ConnectionError(f"update of {self.pk} dropped")
            return call(**kwargs)
        return failing


def test_a_flush_that_fails_halfway_is_retried_without_adding_any_count_twice(serial_moto):
    client = FailingOnce(boto3.client("dynamodb", endpoint_url=serial_moto), "COUNTS#v1#color")
    db = DynamoMonitorStore(create_table(serial_moto), client=client)
    pending, requests, live = counts(), {"v1": 5}, {"v1": "2026-12-07T10:00:00+00:00"}
    with pytest.raises(ConnectionError):
        db.add(pending, requests, live)
    assert pending == {("v1", "color"): {"red": 5}}   # what the retry still has to add
    db.add(pending, requests, live)                   # the monitor's next flush: the same dicts
    assert db.counts("v1", ["x", "color"]) == {"x": {"b0": 3, "b1": 2}, "color": {"red": 5}}
    assert db.versions() == {"v1": {"requests": 5, "live_since": "2026-12-07T10:00:00+00:00"}}
    assert client.written == ["COUNTS#v1#x", "COUNTS#v1#color", "VERSIONS"]   # x once; the dropped call is not one
