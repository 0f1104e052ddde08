"""The training profile, the one bucketing function, and PSI with its thresholds."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from services.common import drift
from services.common.drift import CATEGORY, NUMBER, Buckets, Feature


def frame(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(50, 10, n), "store": rng.integers(1, 6, n),
                         "home": rng.choice(["A", "B"], n), "away": rng.choice(["B", "C"], n)})


def test_profile_has_quantile_bins_and_category_shares():
    prof = drift.profile(frame(), [Feature("x", NUMBER), Feature("store", CATEGORY),
                                   Feature("team", CATEGORY, columns=("home", "away"))])
    x = prof["features"]["x"]
    assert len(x["edges"]) == 9 and x["edges"] == sorted(x["edges"])
    inner = [x["shares"][f"b{i}"] for i in range(10)]
    assert all(abs(s - 0.1) < 0.01 for s in inner)            # deciles hold a tenth each
    assert x["shares"]["below"] == x["shares"]["above"] == x["shares"]["missing"] == 0.0
    store = prof["features"]["store"]
    assert sorted(store["categories"]) == ["1", "2", "3", "4", "5"] and store["shares"]["unknown"] == 0.0
    assert abs(sum(store["shares"].values()) - 1) < 1e-12
    team = prof["features"]["team"]
    assert team["n"] == 4000 and set(team["categories"]) == {"A", "B", "C"}
    assert abs(team["shares"][f"c{team['categories'].index('B')}"] - 0.5) < 0.03   # B is home or away half the time
    assert prof["rows"] == 2000


def test_missing_values_in_training_are_a_share_of_their_own():
    f = frame()
    f.loc[:199, "x"] = np.nan
    x = drift.profile(f, [Feature("x", NUMBER)])["features"]["x"]
    assert x["shares"]["missing"] == pytest.approx(0.1)


def test_serving_buckets_match_training_and_name_out_of_range_and_unknown():
    prof = drift.profile(frame(), [Feature("x", NUMBER), Feature("store", CATEGORY)])
    x = Buckets("x", prof["features"]["x"])
    store = Buckets("store", prof["features"]["store"])
    lo, hi = x.low, x.high
    assert x.key(lo - 1) == "below" and x.key(hi + 1) == "above" and x.key(None) == "missing"
    assert x.key(float("nan")) == "missing" and x.key(lo) == "b0" and x.key(hi) == "b9"
    assert x.key(x.edges[0]) == "b0" and x.key(np.nextafter(x.edges[0], np.inf)) == "b1"
    assert store.key(3) == store.key("3") == store.key(3.0) and store.key(99) == "unknown"
    assert store.key("") == "missing"
    assert x.describe("above").startswith("above") and store.describe(store.key(3)) == "3"


def test_psi_same_distribution_is_stable_and_shifted_is_drift():
    prof = drift.profile(frame(), [Feature("x", NUMBER), Feature("store", CATEGORY)])
    x = Buckets("x", prof["features"]["x"])
    same = frame(1000, seed=1)["x"]
    counts: dict[str, int] = {}
    for v in same:
        counts[x.key(v)] = counts.get(x.key(v), 0) + 1
    report = drift.feature_drift(x, counts)
    assert report["status"] == "stable" and report["psi"] < 0.05
    shifted: dict[str, int] = {}
    for v in same + 15:
        shifted[x.key(v)] = shifted.get(x.key(v), 0) + 1
    report = drift.feature_drift(x, shifted)
    assert report["status"] == "drift" and report["psi"] > drift.DRIFT_ABOVE
    assert report["out_of_range_share"] > 0.05 and report["above_share"] == report["out_of_range_share"]


def test_unknown_ids_count_as_drift_and_few_observations_give_no_status():
    prof = drift.profile(frame(), [Feature("store", CATEGORY)])
    store = Buckets("store", prof["features"]["store"])
    counts = {store.key(s): 40 for s in (1, 2, 3, 4, 5)}
    assert drift.feature_drift(store, counts)["status"] == "stable"
    counts[store.key(77)] = 30                                 # 13% unknown stores
    report = drift.feature_drift(store, counts)
    assert report["status"] == "drift" and report["unknown_share"] == pytest.approx(30 / 230)
    few = drift.feature_drift(store, {store.key(77): 50})
    assert few["status"] == "not enough requests yet" and few["psi"] > 1


def test_thresholds_are_the_stated_ones():
    assert drift.status(0.05, 500) == "stable"
    assert drift.status(0.2, 500) == "watch"
    assert drift.status(0.3, 500) == "drift"
    assert drift.status(0.3, drift.MIN_OBSERVATIONS - 1) == "not enough requests yet"
    assert drift.psi({"a": 0.5, "b": 0.5}, {"a": 50, "b": 50}) == pytest.approx(0.0)


def test_profile_refuses_a_missing_column():
    with pytest.raises(ValueError, match="no column 'nope'"):
        drift.profile(frame(), [Feature("nope", NUMBER)])


def test_a_float32_column_buckets_as_the_decimals_requests_send():
    values = np.round(np.random.default_rng(0).uniform(4, 6, 1000), 2).astype(np.float32)
    entry = drift.profile({"p": values}, [Feature("p", NUMBER)])["features"]["p"]
    b = Buckets("p", entry)
    edge = entry["edges"][3]
    assert edge == round(edge, 2)                      # 4.99, not 4.989999771118164
    assert b.key(edge) == "b3"                         # the request's 4.99 goes where training's did
