"""Weeks as the data has them: each row is the week (Saturday..Friday) ending on a Friday."""
from __future__ import annotations

from datetime import date, timedelta

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
