"""The circuit breaker: a pandera schema over the raw CSV, and a readable report of every failure.

Rules (each one has a corrupted-file test in tests/demand/test_validation.py):
- columns: exactly the ten columns of the dunnhumby file, every cell filled (no nulls);
- types: prices are numbers, flags and units are integers, store and product ids are digit strings;
- ranges: BASE_PRICE > 0 and PRICE > 0 (and below MAX_PRICE), UNITS >= 0, DISPLAY/FEATURE/TPR_ONLY in {0, 1};
- dates parse: WEEK_END_DATE is an Excel serial day (as shipped) or an ISO date, within 2000..2035;
- price vs base price: PRICE <= BASE_PRICE * (1 + PRICE_ABOVE_BASE_TOLERANCE);
- unique (WEEK_END_DATE, STORE_NUM, UPC).

PRICE_ABOVE_BASE_TOLERANCE = 0.30, from the data: BASE_PRICE is dunnhumby's regular (base) price
for the week, and the shelf price is above it on 93 of 8,547 rows (1.1%), by at most 27.0% (a
price rise before the base price catches up). 30% keeps every real row and still stops the usual
corruptions (a price in cents, swapped columns, a missing decimal point), which are 2x and more.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

COLUMNS = ["BASE_PRICE", "PRICE", "WEEK_END_DATE", "STORE_NUM", "UPC", "MANUFACTURER", "DISPLAY", "FEATURE",
           "TPR_ONLY", "UNITS"]
KEY = ["WEEK_END_DATE", "STORE_NUM", "UPC"]
FLAGS = ["DISPLAY", "FEATURE", "TPR_ONLY"]
PRICE_ABOVE_BASE_TOLERANCE = 0.30
MAX_PRICE = 1000.0
EXCEL_EPOCH = date(1899, 12, 30)
FIRST_DATE, LAST_DATE = date(2000, 1, 1), date(2035, 12, 31)


class DataValidationError(RuntimeError):
    """The raw data broke at least one rule; `report` says which, how many rows, and examples."""

    def __init__(self, report: "Report"):
        super().__init__(report.text())
        self.report = report


@dataclass
class Failure:
    rule: str
    column: str
    rows: int
    examples: list[str]


@dataclass
class Report:
    path: str
    rows: int
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def text(self) -> str:
        if self.ok:
            return f"validation PASSED: {self.path}: {self.rows} rows, every rule holds\n"
        lines = [f"validation FAILED: {self.path}: {self.rows} rows, {len(self.failures)} rule(s) broken; "
                 "nothing was loaded into the warehouse or published to the model store", ""]
        for f in self.failures:
            lines.append(f"- rule {f.rule} ({RULES.get(f.rule, f.rule)}) on {f.column}: {f.rows} row(s)")
            for example in f.examples:
                lines.append(f"    {example}")
        return "\n".join(lines) + "\n"


def parse_week(value) -> date | None:
    """An Excel serial day ('40352') or an ISO date ('2010-06-23'); None if it is neither."""
    text = str(value).strip()
    try:
        if text.isdigit():
            day = EXCEL_EPOCH + timedelta(days=int(text))
        else:
            day = date.fromisoformat(text)
    except (ValueError, OverflowError):
        return None
    return day if FIRST_DATE <= day <= LAST_DATE else None


def _is_int_text(series: pd.Series) -> pd.Series:
    return series.astype(str).str.fullmatch(r"-?\d+")


def _is_number_text(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").notna()


def _numeric(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce")


def _no_null(col: str) -> pa.Column:
    return pa.Column(str, nullable=False, required=True, name=col)


def raw_schema() -> pa.DataFrameSchema:
    """Rules over the CSV read as text, so a bad cell is reported by rule instead of crashing a cast."""
    price_checks = [
        pa.Check(_is_number_text, name="type_is_number"),
        pa.Check(lambda s: ~_is_number_text(s) | (_numeric(s) > 0), name="price_positive"),
        pa.Check(lambda s: ~_is_number_text(s) | (_numeric(s) <= MAX_PRICE), name="price_plausible"),
    ]
    columns = {
        "BASE_PRICE": pa.Column(str, price_checks, nullable=False),
        "PRICE": pa.Column(str, price_checks, nullable=False),
        "WEEK_END_DATE": pa.Column(str, pa.Check(lambda s: s.map(parse_week).notna(), name="date_parses"),
                                   nullable=False),
        "STORE_NUM": pa.Column(str, pa.Check(_is_int_text, name="type_is_id"), nullable=False),
        "UPC": pa.Column(str, pa.Check(_is_int_text, name="type_is_id"), nullable=False),
        "MANUFACTURER": pa.Column(str, pa.Check.str_length(1, 64, name="text_length"), nullable=False),
        "UNITS": pa.Column(str, [
            pa.Check(_is_int_text, name="type_is_integer"),
            pa.Check(lambda s: ~_is_int_text(s) | (_numeric(s) >= 0), name="units_non_negative"),
        ], nullable=False),
    }
    for flag in FLAGS:
        columns[flag] = pa.Column(str, pa.Check.isin(["0", "1"], name="flag_is_0_or_1"), nullable=False)

    def price_within_base(frame: pd.DataFrame) -> pd.Series:
        price, base = _numeric(frame["PRICE"]), _numeric(frame["BASE_PRICE"])
        comparable = (price > 0) & (base > 0)  # non-positive prices are their own rule
        return ~comparable | (price <= base * (1 + PRICE_ABOVE_BASE_TOLERANCE) + 1e-9)

    def key_unique(frame: pd.DataFrame) -> pd.Series:
        weeks = frame["WEEK_END_DATE"].map(parse_week)
        keys = pd.DataFrame({"w": weeks, "s": frame["STORE_NUM"].str.strip(), "u": frame["UPC"].str.strip()})
        return ~keys.duplicated(keep=False)

    return pa.DataFrameSchema(
        columns,
        checks=[
            pa.Check(price_within_base, name="price_not_above_base_by_more_than_30pct"),
            pa.Check(key_unique, name="unique_week_store_product"),
        ],
        strict=True,
        ordered=False,
        name="dunnhumby_frozen_pizza_weekly",
    )


def _examples(cases: pd.DataFrame, raw: pd.DataFrame) -> list[str]:
    out = []
    for _, case in cases.head(5).iterrows():
        idx = case.get("index")
        if pd.notna(idx) and int(idx) in raw.index:
            row = raw.loc[int(idx)]
            # CSV line = index + 2 (header is line 1)
            cells = ", ".join(f"{c}={row[c]}" for c in raw.columns[:12])
            out.append(f"line {int(idx) + 2}: {cells}")
        else:
            out.append(f"{case.get('failure_case')!r}")
    return out


RULES = {
    "columns": "exactly the columns " + ", ".join(COLUMNS),
    "no_nulls": "every cell filled",
    "type_is_number": "a number",
    "type_is_integer": "an integer",
    "type_is_id": "an id of digits only",
    "text_length": "1..64 characters",
    "price_positive": "> 0",
    "price_plausible": f"<= {MAX_PRICE:g}",
    "units_non_negative": ">= 0",
    "flag_is_0_or_1": "0 or 1",
    "date_parses": "an Excel serial day or YYYY-MM-DD within 2000..2035",
    "price_not_above_base_by_more_than_30pct": f"PRICE <= BASE_PRICE * {1 + PRICE_ABOVE_BASE_TOLERANCE:.2f}",
    "unique_week_store_product": "one row per (WEEK_END_DATE, STORE_NUM, UPC)",
}


def _failures(exc: SchemaErrors, raw: pd.DataFrame) -> list[Failure]:
    cases = exc.failure_cases.copy()
    cases["check"] = cases["check"].astype(str).str.replace(r"\(.*\)$", "", regex=True)
    frame_level = (cases["schema_context"] == "DataFrameSchema") & ~cases["check"].str.startswith("column_in")
    cases["column"] = cases["column"].astype(str).where(~frame_level, "(row)")
    failures = []
    for (column, check), group in cases.groupby(["column", "check"], sort=False):
        if check.startswith("column_in"):
            what = "missing" if check == "column_in_dataframe" else "unexpected"
            failures.append(Failure("columns", "header", len(group),
                                    [f"{what} column {c!r}" for c in group["failure_case"].head(10)]))
            continue
        rule = {"not_nullable": "no_nulls", "isin": "flag_is_0_or_1", "str_length": "text_length"}.get(check, check)
        indexed = group["index"].notna().any()
        rows = int(group["index"].dropna().nunique()) if indexed else len(group)
        failures.append(Failure(rule, str(column), rows, _examples(group.drop_duplicates("index"), raw)))
    return failures


def read_raw(path: Path) -> pd.DataFrame:
    """The CSV as text cells (empty cells become nulls); ids keep their leading zeros."""
    return pd.read_csv(path, dtype=str, keep_default_na=True, na_values=[""], skipinitialspace=True)


def typed(raw: pd.DataFrame) -> pd.DataFrame:
    """The validated frame with real types and lower-case warehouse column names."""
    return pd.DataFrame({
        "week_end_date": pd.to_datetime(raw["WEEK_END_DATE"].map(parse_week)).dt.date,
        "store_id": raw["STORE_NUM"].str.strip(),
        "product_id": raw["UPC"].str.strip(),
        "manufacturer": raw["MANUFACTURER"].str.strip(),
        "base_price": raw["BASE_PRICE"].astype(float),
        "price": raw["PRICE"].astype(float),
        "display": raw["DISPLAY"].astype(int),
        "feature": raw["FEATURE"].astype(int),
        "tpr": raw["TPR_ONLY"].astype(int),
        "units": raw["UNITS"].astype(int),
    })


def validate_file(path: Path) -> tuple[pd.DataFrame, Report]:
    """Validate a raw CSV; return the typed frame, or raise DataValidationError with the report."""
    path = Path(path)
    try:
        raw = read_raw(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        report = Report(str(path), 0, [Failure("file_readable", "file", 0, [str(exc)[:300]])])
        raise DataValidationError(report) from None
    report = Report(str(path), len(raw))
    if raw.empty:
        report.failures.append(Failure("not_empty", "file", 0, ["the file holds no data rows"]))
        raise DataValidationError(report)
    try:
        raw_schema().validate(raw, lazy=True)
    except SchemaErrors as exc:
        report.failures = _failures(exc, raw)
        raise DataValidationError(report) from None
    return typed(raw), report
