"""The second queue engine (services/flow/fifo.py): a plain FIFO queue whose waits are checked by hand."""
from __future__ import annotations

import csv
import itertools

import numpy as np
import pytest

from services.flow import fifo


def test_fans_are_served_in_arrival_order_by_the_lane_that_frees_first():
    one_lane = fifo.serve(np.array([0.0, 0.0, 0.0, 5.0]), np.full(4, 1.0), lanes=1, half=1, full_at=0.0)
    assert one_lane.tolist() == [0.0, 1.0, 2.0, 5.0]
    # two lanes, the second closed until minute 0.5: it takes the second fan when it opens
    two = fifo.serve(np.array([0.0, 0.0, 0.0, 0.0]), np.full(4, 1.0), lanes=2, half=1, full_at=0.5)
    assert two.tolist() == [0.0, 0.5, 1.0, 1.5]


def test_the_parts_split_the_factors_and_the_check_has_only_unseen_combinations():
    fit, check = set(fifo.PARTS["fit"]), set(fifo.PARTS["check"])
    assert fit.isdisjoint(check) and fit | check == set(itertools.product(fifo.SHAPES, fifo.DISTRIBUTIONS))
    fitted_shapes, fitted_distributions = {s for s, _ in fit}, {d for _, d in fit}
    assert all(s not in fitted_shapes or d not in fitted_distributions for s, d in check)


def test_waits_follow_the_queue_in_steady_state():
    """With near-constant service and a long queue, a joining fan waits about queue x service / lanes."""
    days = fifo.simulate(3, 5, "check")
    rows = [r for d in days for r in d["rows"] if d["regime"].endswith("/deterministic")]
    busy = [r for r in rows if r["queueLength"] > 100 and r["true_wait"] is not None and r["openLanes"] > 0]
    assert len(busy) > 20
    little = np.array([r["queueLength"] * r["avgProcessingTime"] / r["openLanes"] / 60 for r in busy])
    truth = np.array([r["true_wait"] for r in busy])
    assert np.median(truth / little) == pytest.approx(1.0, abs=0.15)


def test_same_seed_same_days_and_the_command_writes_the_simulator_schema(tmp_path):
    from services.flow.simulate import FIELDS

    assert fifo.simulate(2, 9, "fit") == fifo.simulate(2, 9, "fit")
    assert fifo.simulate(2, 9, "fit") != fifo.simulate(2, 10, "fit")
    out = tmp_path / "check.csv"
    assert fifo.main(["--out", str(out), "--days", "5", "--first", "2026-06-01"]) == 0
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == FIELDS and rows[0]["ts"].startswith("2026-06-01T14:01")
    assert {r["regime"] for r in rows} == {f"fifo/{s}/{d}" for s, d in fifo.PARTS["check"]}
    with pytest.raises(ValueError, match="unknown part"):
        fifo.simulate(1, 1, "test")
