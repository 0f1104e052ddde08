"""Weeks as the data has them: each row is the week (Saturday..Friday) ending on a Friday."""
from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

from dateutil.easter import easter


def week_ending(day: date) -> date:
    """The Friday that ends the Saturday..Friday week containing `day`."""
    return day + timedelta(days=(4 - day.weekday()) % 7)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def holiday_dates(year: int) -> list[date]:
    """The four holidays Walmart flags: Super Bowl, Labor Day, Thanksgiving, Christmas."""
    super_bowl = _nth_weekday(year, 2, 6, 2 if year >= 2022 else 1)
    return [super_bowl, _nth_weekday(year, 9, 0, 1), _nth_weekday(year, 11, 3, 4), date(year, 12, 25)]


def is_holiday_week(week_end: date) -> bool:
    start = week_end - timedelta(days=6)
    return any(start <= h <= week_end for h in holiday_dates(week_end.year) + holiday_dates(start.year))


# -- calendar effects the 52-week lag misses --------------------------------------------------------
# The same week last year is 364 days earlier, so fixed-date and Easter-dated shopping moves between
# weeks from one year to the next (by one weekday a year, two across a 29 February). These counts,
# known for any future week, let a model move last year's week by what the calendar moved.
CALENDAR_EFFECTS = ("easter", "month_days_1_3", "month_days_4_7", "christmas_eve_week")


def good_friday_week(week_end: date) -> bool:
    """The week ending on Good Friday: the Easter shopping week (the Saturday before Easter falls in
    the next week, whose sales the data show barely moved)."""
    return week_end == easter(week_end.year) - timedelta(days=2)


@lru_cache(maxsize=2048)
def calendar_counts(week_end: date) -> tuple[float, float, float, float]:
    """(Easter week 0/1, days with day-of-month 1..3, days 4..7, days Dec 18..24) of the week."""
    days = [week_end - timedelta(days=i) for i in range(7)]
    return (1.0 if good_friday_week(week_end) else 0.0,
            float(sum(d.day <= 3 for d in days)),
            float(sum(4 <= d.day <= 7 for d in days)),
            float(sum(d.month == 12 and 18 <= d.day <= 24 for d in days)))
