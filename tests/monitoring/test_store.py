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


COUNTS = {("v1", "x"): {"b0": 3, "b1": 2}, ("v1", "color"): {"red": 5}}


def test_a_flush_writes_its_counts_then_its_requests_once(store):
    db, client = store
    db.add(COUNTS, {"v1": 5}, {"v1": "2026-12-07T10:00:00+00:00"})
    assert client.written == ["COUNTS#v1#x", "COUNTS#v1#color", "VERSIONS"]
    assert db.versions() == {"v1": {"requests": 5, "live_since": "2026-12-07T10:00:00+00:00"}}
    assert db.counts("v1", ["x", "color"]) == {"x": {"b0": 3, "b1": 2}, "color": {"red": 5}}


def test_counts_and_requests_add_up_and_the_first_live_time_stays(store):
    db, client = store
    db.add(COUNTS, {"v1": 5}, {"v1": "2026-12-07T10:00:00+00:00"})
    db.add({("v1", "x"): {"b0": 1}}, {"v1": 1}, {"v1": "2026-12-07T11:00:00+00:00", "v2": "2026-12-07T11:00:00+00:00"})
    db.add({}, {"v2": 2}, {})
    assert db.versions() == {"v1": {"requests": 6, "live_since": "2026-12-07T10:00:00+00:00"},
                             "v2": {"requests": 2, "live_since": "2026-12-07T11:00:00+00:00"}}
    assert db.counts("v1", ["x"])["x"] == {"b0": 4, "b1": 2}
    assert client.written[-1] == "VERSIONS" and client.written.count("VERSIONS") == 3
