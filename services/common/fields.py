"""Field types that request schemas share.

Each parses its text once, in the schema, so a view receives a typed value (a `date`, an aware
`datetime`, a 0/1 int) and never parses the same string again. Errors name what is accepted.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

# C0 and C1 control characters, DEL, and the Unicode line/paragraph separators: none belongs in a
# name, and each can forge a log line or break a terminal. Tab and newline included.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
CONTROL_FREE_PATTERN = "^[^\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029]*$"


def _no_control(value: str) -> str:
    found = _CONTROL.search(value)
    if found is not None:
        raise PydanticCustomError(
            "control_character", "must not contain control characters (found U+{code} at position {pos})",
            {"code": f"{ord(found.group()):04X}", "pos": found.start()})
    return value


Text = Annotated[str, AfterValidator(_no_control), Field(json_schema_extra={"pattern": CONTROL_FREE_PATTERN})]
"""Free text (names, places): any printable characters, no control characters."""


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def date_field(*, day_first: bool = False, earliest: date | None = None, latest: date | None = None) -> Any:
    """A day sent as text: YYYY-MM-DD, and DD-MM-YYYY too when `day_first`; optionally bounded.

    The view receives a `datetime.date`. The JSON schema says string with the accepted pattern.
    """
    accepted = "YYYY-MM-DD" + (" or DD-MM-YYYY" if day_first else "")
    bounds = (f" between {earliest} and {latest}" if earliest and latest else
              f" from {earliest}" if earliest else f" up to {latest}" if latest else "")
    problem = f"must be a date as {accepted}{bounds}"
    pattern = r"^(\d{4}-\d{2}-\d{2}|\d{2}-\d{2}-\d{4})$" if day_first else r"^\d{4}-\d{2}-\d{2}$"

    def parse(value: Any) -> date:
        if type(value) is str and len(value) == 10:
            if value[4] == "-" and value[7] == "-":
                y, m, d = value[:4], value[5:7], value[8:]
            elif day_first and value[2] == "-" and value[5] == "-":
                d, m, y = value[:2], value[3:5], value[6:]
            else:
                y = m = d = ""
            if _digits(y) and _digits(m) and _digits(d):
                try:
                    day = date(int(y), int(m), int(d))
                except ValueError:
                    raise PydanticCustomError("date_value", f"{value} is not a calendar day; {problem}") from None
                if (earliest is None or day >= earliest) and (latest is None or day <= latest):
                    return day
        raise PydanticCustomError("date_text", problem)

    return Annotated[date, PlainValidator(parse), WithJsonSchema({"type": "string", "pattern": pattern})]


def _timestamp(value: Any) -> datetime:
    if type(value) is str and len(value) <= 40:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:
                raise PydanticCustomError("timestamp_zone", "must carry a timezone (Z or +01:00), "
                                                            "e.g. 2025-12-21T18:00:00Z")
            return parsed
    raise PydanticCustomError("timestamp", "must be an ISO 8601 time with a timezone (at most 40 characters), "
                                           "e.g. 2025-12-21T18:00:00Z")


Timestamp = Annotated[datetime, PlainValidator(_timestamp),
                      WithJsonSchema({"type": "string", "format": "date-time", "maxLength": 40})]
"""An ISO 8601 time with a timezone (`...Z` or `...+01:00`); the view gets an aware datetime."""


def _flag(value: Any) -> int:
    if type(value) is bool:
        return int(value)
    if type(value) is int and value in (0, 1):
        return value
    raise PydanticCustomError("flag", "must be 0, 1, true or false")


Flag = Annotated[int, PlainValidator(_flag),
                 WithJsonSchema({"anyOf": [{"type": "integer", "enum": [0, 1]}, {"type": "boolean"}]})]
"""A yes/no flag sent as 0/1 (as the data has it) or as a JSON boolean; the view gets 0 or 1."""


def _cents(value: float) -> float:
    return round(value, 2)


Money = Annotated[float, PlainSerializer(_cents, return_type=float), Field(description="USD, rounded to cents")]
"""An amount of money in a response: computed in full precision, sent rounded to cents."""
