"""The era table (data/powerball/eras.json) against the official rules history and the draws themselves."""
from __future__ import annotations

import csv
from datetime import date, datetime

import pytest

from services.powerball.eras import (DrawError, draws_from_json, era_for, eras_from_json, load_eras, make_draw,
                                     parse_csv)
from tests.powerball.conftest import CSV, ERAS_JSON


@pytest.fixture(scope="module")
def eras():
    return load_eras(ERAS_JSON)


@pytest.fixture(scope="module")
def draws(eras):
    return parse_csv(CSV, eras)


def raw_rows():
    """The CSV read independently of the service's parser: (date, 5 white, powerball)."""
    with open(CSV, newline="") as handle:
        for row in csv.DictReader(handle):
            numbers = [int(n) for n in row["Winning Numbers"].split()]
            yield datetime.strptime(row["Draw Date"], "%m/%d/%Y").date(), numbers[:5], numbers[5]


def test_era_table_matches_the_rules_history(eras):
    table = [(e.name, e.rules_effective, e.first_draw, e.white_max, e.powerball_max) for e in eras]
    assert table == [
        ("5/59 + 1/39", date(2009, 1, 7), date(2009, 1, 7), 59, 39),
        ("5/59 + 1/35", date(2012, 1, 15), date(2012, 1, 18), 59, 35),
        ("5/69 + 1/26", date(2015, 10, 4), date(2015, 10, 7), 69, 26),
    ]
    assert all(e.source for e in eras)


@pytest.mark.parametrize("day,era", [
    (date(2010, 2, 3), "5/59 + 1/39"),
    (date(2012, 1, 14), "5/59 + 1/39"),   # last draw with Powerballs 1-39
    (date(2012, 1, 15), "5/59 + 1/35"),
    (date(2012, 1, 18), "5/59 + 1/35"),   # first draw of the $2 game
    (date(2015, 10, 3), "5/59 + 1/35"),   # last 5/59 draw
    (date(2015, 10, 7), "5/69 + 1/26"),   # first 5/69 draw
    (date(2030, 1, 1), "5/69 + 1/26"),
])
def test_era_for_boundaries(eras, day, era):
    assert era_for(day, eras).name == era


def test_dates_before_the_first_era_are_refused(eras):
    with pytest.raises(DrawError, match="before the first known era"):
        era_for(date(2008, 12, 31), eras)


def test_every_draw_parses_into_its_era(draws):
    raw = list(raw_rows())
    assert len(draws) == len(raw) == 1843
    counts = {}
    for d in draws:
        counts[d.era] = counts.get(d.era, 0) + 1
    assert counts == {"5/59 + 1/39": 204, "5/59 + 1/35": 387, "5/69 + 1/26": 1252}
    assert [d.date for d in draws] == sorted(d.date for d in draws)


def test_the_data_agrees_with_the_era_table(eras, draws):
    """Each era's ranges are used in full by the data, and no draw crosses an era boundary."""
    for era in eras:
        mine = [d for d in draws if d.era == era.name]
        assert max(max(d.white_balls) for d in mine) == era.white_max
        assert max(d.powerball for d in mine) == era.powerball_max
        assert min(min(d.white_balls) for d in mine) == 1 and min(d.powerball for d in mine) == 1
        assert mine[0].date >= era.first_draw
    by_name = {e.name: e for e in eras}
    # the first draw in the data under the 2012 and 2015 rules is the official first drawing
    assert [d for d in draws if d.era == "5/59 + 1/35"][0].date == by_name["5/59 + 1/35"].first_draw
    assert [d for d in draws if d.era == "5/69 + 1/26"][0].date == by_name["5/69 + 1/26"].first_draw
    # Powerballs above 35 only before 2012-01-15, above 26 only before 2015-10-04, whites above 59 only after
    for day, white, power in raw_rows():
        if power > 35:
            assert day < date(2012, 1, 15)
        if power > 26:
            assert day < date(2015, 10, 4)
        if max(white) > 59:
            assert day >= date(2015, 10, 7)


def test_white_balls_are_a_sorted_set(draws):
    unsorted_in_source = next(d for d in draws if d.date == date(2018, 1, 6))
    assert unsorted_in_source.white_balls == (12, 29, 30, 33, 61)
    assert all(list(d.white_balls) == sorted(set(d.white_balls)) for d in draws)


def test_multiplier_is_optional(draws):
    by_date = {d.date: d for d in draws}
    assert by_date[date(2013, 6, 1)].multiplier is None
    assert by_date[date(2025, 9, 29)].multiplier == 5


@pytest.mark.parametrize("day,white,power,problem", [
    (date(2014, 5, 3), [1, 2, 3, 4, 60], 5, "outside 1-59"),
    (date(2016, 5, 4), [1, 2, 3, 4, 70], 5, "outside 1-69"),
    (date(2016, 5, 4), [0, 2, 3, 4, 5], 5, "outside 1-69"),
    (date(2016, 5, 4), [1, 2, 3, 4, 5], 27, "Powerball 27 outside 1-26"),
    (date(2013, 5, 4), [1, 2, 3, 4, 5], 36, "Powerball 36 outside 1-35"),
    (date(2011, 5, 4), [1, 2, 3, 4, 5], 40, "Powerball 40 outside 1-39"),
    (date(2016, 5, 4), [1, 1, 3, 4, 5], 5, "distinct"),
    (date(2016, 5, 4), [1, 2, 3, 4], 5, "distinct"),
])
def test_draws_outside_their_era_are_refused(eras, day, white, power, problem):
    with pytest.raises(DrawError, match=problem):
        make_draw(day, white, power, None, eras)


def test_old_ranges_are_accepted_in_their_own_era(eras):
    assert make_draw(date(2011, 5, 4), [1, 2, 3, 4, 59], 39, 2, eras).era == "5/59 + 1/39"
    assert make_draw(date(2013, 5, 4), [1, 2, 3, 4, 59], 35, None, eras).era == "5/59 + 1/35"


def test_bad_csv_rows_name_the_line(eras, tmp_path):
    bad = tmp_path / "draws.csv"
    bad.write_text("Draw Date,Winning Numbers,Multiplier\n"
                   "01/02/2016,01 02 03 04 05 06,2\n01/06/2016,01 02 03 04 68 30,2\n")
    with pytest.raises(DrawError, match=r"draws.csv:3: .*Powerball 30 outside 1-26"):
        parse_csv(bad, eras)


def test_era_table_must_be_ordered():
    rows = [{"name": "b", "rules_effective": "2015-10-04", "first_draw": "2015-10-07", "white_max": 69,
             "powerball_max": 26},
            {"name": "a", "rules_effective": "2012-01-15", "first_draw": "2012-01-18", "white_max": 59,
             "powerball_max": 35}]
    with pytest.raises(ValueError, match="date order"):
        eras_from_json(rows)


def test_shipped_draws_with_a_wrong_era_label_are_refused(eras):
    row = {"date": "2016-05-04", "white_balls": [1, 2, 3, 4, 5], "powerball": 6, "era": "5/59 + 1/35"}
    with pytest.raises(DrawError, match="labelled era"):
        draws_from_json([row], eras)
