"""The circuit breaker: one corrupted file per rule stops the pipeline before the warehouse or the store."""
from __future__ import annotations


import pandas as pd
import pytest

from services.demand import pipeline
from services.demand.validation import PRICE_ABOVE_BASE_TOLERANCE, DataValidationError, validate_file
from tests.demand.conftest import DATA


def raw() -> pd.DataFrame:
    return pd.read_csv(DATA, dtype=str)


def set_cell(frame: pd.DataFrame, row: int, column: str, value) -> pd.DataFrame:
    frame = frame.copy()
    frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    return frame


# (case, corruption, expected rule, expected column, expected rows)
CASES = [
    ("missing_column", lambda d: d.drop(columns=["FEATURE"]), "columns", "header", 1),
    ("unexpected_column", lambda d: d.assign(COMMENT="x"), "columns", "header", 1),
    ("null_units", lambda d: set_cell(d, 3, "UNITS", None), "no_nulls", "UNITS", 1),
    ("null_store", lambda d: set_cell(set_cell(d, 3, "STORE_NUM", None), 9, "STORE_NUM", None), "no_nulls",
     "STORE_NUM", 2),
    ("price_not_a_number", lambda d: set_cell(d, 5, "PRICE", "abc"), "type_is_number", "PRICE", 1),
    ("units_not_integer", lambda d: set_cell(d, 5, "UNITS", "3.5"), "type_is_integer", "UNITS", 1),
    ("store_not_an_id", lambda d: set_cell(d, 5, "STORE_NUM", "S-12"), "type_is_id", "STORE_NUM", 1),
    ("price_zero", lambda d: set_cell(d, 5, "PRICE", "0"), "price_positive", "PRICE", 1),
    ("base_price_negative", lambda d: set_cell(d, 6, "BASE_PRICE", "-3.5"), "price_positive", "BASE_PRICE", 1),
    ("units_negative", lambda d: set_cell(d, 7, "UNITS", "-4"), "units_non_negative", "UNITS", 1),
    ("flag_not_0_1", lambda d: set_cell(d, 8, "DISPLAY", "2"), "flag_is_0_or_1", "DISPLAY", 1),
    ("tpr_flag_text", lambda d: set_cell(d, 8, "TPR_ONLY", "yes"), "flag_is_0_or_1", "TPR_ONLY", 1),
    ("date_unparseable", lambda d: set_cell(d, 10, "WEEK_END_DATE", "2010-13-45"), "date_parses",
     "WEEK_END_DATE", 1),
    ("date_out_of_range", lambda d: set_cell(d, 10, "WEEK_END_DATE", "99999"), "date_parses", "WEEK_END_DATE", 1),
    ("price_far_above_base", lambda d: set_cell(d, 11, "PRICE", str(float(d.loc[11, "BASE_PRICE"]) * 2)),
     "price_not_above_base_by_more_than_30pct", "(row)", 1),
    ("duplicate_key", lambda d: pd.concat([d, d.iloc[[12]]], ignore_index=True), "unique_week_store_product",
     "(row)", 2),
]


def test_shipped_data_passes_every_rule():
    frame, report = validate_file(DATA)
    assert report.ok and len(frame) == 8547
    assert frame[["week_end_date", "store_id", "product_id"]].duplicated().sum() == 0
    assert (frame["price"] > 0).all() and (frame["units"] >= 0).all()
    # every real row is within the tolerance, and the worst one is close to it (why 30%)
    worst = (frame["price"] / frame["base_price"]).max()
    assert 1.2 < worst <= 1 + PRICE_ABOVE_BASE_TOLERANCE


def test_price_just_inside_the_tolerance_passes(tmp_path):
    frame = raw()
    frame = set_cell(frame, 11, "PRICE", f"{float(frame.loc[11, 'BASE_PRICE']) * 1.29:.4f}")
    path = tmp_path / "ok.csv"
    frame.to_csv(path, index=False)
    validate_file(path)


@pytest.mark.parametrize("case, corrupt, rule, column, rows", CASES, ids=[c[0] for c in CASES])
def test_corrupted_file_stops_the_pipeline(case, corrupt, rule, column, rows, tmp_path, capsys):
    path = tmp_path / f"{case}.csv"
    corrupt(raw()).to_csv(path, index=False)
    report_path = tmp_path / "report.txt"
    db = tmp_path / "warehouse.db"
    store = tmp_path / "store"
    with pytest.raises(SystemExit) as stopped:
        pipeline.main(["--data", str(path), "--database-url", f"sqlite:///{db}", "--store-uri", store.as_uri(),
                       "--output", str(tmp_path / "out"), "--report", str(report_path), "--quiet"])
    assert stopped.value.code == pipeline.EXIT_INVALID_DATA
    # nothing touched: no warehouse file, no model store, no build folder
    assert not db.exists() and not store.exists() and not (tmp_path / "out").exists()
    report = report_path.read_text()
    assert report.startswith("validation FAILED") and f"rule {rule} " in report
    assert f"on {column}: {rows} row(s)" in report
    assert report in capsys.readouterr().err
    with pytest.raises(DataValidationError) as exc:
        validate_file(path)
    failures = {(f.rule, f.column): f for f in exc.value.report.failures}
    assert set(failures) == {(rule, column)}, exc.value.report.text()
    failure = failures[(rule, column)]
    assert failure.rows == rows and failure.examples
    if column not in ("header",):
        assert failure.examples[0].startswith("line ")  # points at the CSV line


def test_unreadable_and_empty_files_stop_too(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text(",".join(raw().columns) + "\n")
    with pytest.raises(DataValidationError) as exc:
        validate_file(empty)
    assert exc.value.report.failures[0].rule == "not_empty"
    with pytest.raises(DataValidationError) as exc:
        validate_file(tmp_path / "missing.csv")
    assert exc.value.report.failures[0].rule == "file_readable"


def test_report_lists_every_broken_rule_at_once(tmp_path):
    frame = set_cell(set_cell(raw(), 1, "UNITS", "-1"), 2, "FEATURE", "7")
    path = tmp_path / "two.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataValidationError) as exc:
        validate_file(path)
    rules = sorted(f.rule for f in exc.value.report.failures)
    assert rules == ["flag_is_0_or_1", "units_non_negative"]
    assert "line 3:" in exc.value.report.text() and "line 4:" in exc.value.report.text()
