"""The warehouse on SQLite and on the real PostgreSQL: idempotent upsert, insert-missing, read back."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from services.demand import models, pipeline
from services.demand.features import FEATURE_NAMES
from services.demand.validation import validate_file
from tests.demand.conftest import DATA


@pytest.fixture(scope="module")
def validated() -> pd.DataFrame:
    return validate_file(DATA)[0]


def key(frame: pd.DataFrame) -> pd.Series:
    weeks = pd.to_datetime(frame["week_end_date"]).dt.date.astype(str)
    return weeks + "|" + frame["store_id"].astype(str) + "|" + frame["product_id"].astype(str)


def test_load_is_idempotent(warehouse, validated):
    first = warehouse.load(validated)
    assert (first.before, first.inserted, first.after) == (0, len(validated), len(validated))
    again = warehouse.load(validated)
    assert (again.before, again.inserted, again.after) == (len(validated), 0, len(validated))
    back = warehouse.read()
    assert len(back) == len(validated) and not key(back).duplicated().any()
    assert set(key(back)) == set(key(validated))
    assert int(back["units"].sum()) == int(validated["units"].sum())
    assert back["week_end_date"].is_monotonic_increasing


def test_partial_then_full_load_inserts_only_the_missing_rows(warehouse, validated):
    half = validated.iloc[: len(validated) // 2]
    assert warehouse.load(half).inserted == len(half)
    full = warehouse.load(validated)
    assert full.inserted == len(validated) - len(half) and full.after == len(validated)


def test_a_corrected_row_replaces_the_old_one(warehouse, validated):
    sample = validated.iloc[:50].copy()
    warehouse.load(sample)
    sample.loc[sample.index[0], "units"] = 999
    result = warehouse.load(sample)
    assert result.inserted == 0 and result.after == 50
    back = warehouse.read()
    row = back[key(back) == key(sample.iloc[[0]]).iloc[0]]
    assert row["units"].tolist() == [999]


def test_pipeline_steps_read_the_same_rows_from_either_database(warehouse, validated, tmp_path):
    """validate -> load -> read back -> the split plan and feature rows, on this warehouse (the
    PostgreSQL run uses the real server)."""
    frame, _ = pipeline.validate(DATA, tmp_path / "report.txt")
    pipeline.load(frame, warehouse)
    pipeline.load(frame, warehouse)  # a re-run of the load step
    rows = pipeline.read_rows(warehouse)
    assert len(rows) == len(validated)
    assert rows["store_id"].map(type).eq(str).all() and rows["units"].dtype == np.int64
    back = rows.set_index(["week_end_date", "store_id", "product_id"]).sort_index()
    want = validated.assign(week_end_date=pd.to_datetime(validated["week_end_date"]),
                            store_id=validated["store_id"].astype(str), product_id=validated["product_id"].astype(str)
                            ).set_index(["week_end_date", "store_id", "product_id"]).sort_index()
    assert (back["units"] == want["units"]).all() and np.allclose(back["price"], want["price"])
    folds = pipeline.split_plan().folds(rows)
    test = [f for f in folds if f.role == "test"][0]
    assert test.predict.sum() == 1358 and rows.loc[test.predict, "week_end_date"].min() == pd.Timestamp("2011-03-30")
    assert rows.loc[test.fit, "week_end_date"].max() < pd.Timestamp("2011-03-30")
    enc = models.Encodings().fit(rows.loc[test.fit])
    x = models.matrix(rows.loc[test.predict], enc, enc.rows(rows.loc[test.predict]))
    assert x.shape == (1358, len(FEATURE_NAMES)) and np.isfinite(x).all()
