"""The dashboard's panels as chart input: report charts fold their smallest values into
"other" so no two series share a colour, and MTTA and MTTR each get their own scale."""

from __future__ import annotations

from datetime import date, timedelta
from types import MappingProxyType

from incidents.dashboard import DeadlineFigures
from incidents.deadlines.metrics import MonthMetrics
from ingest.dashboard import OTHER
from web.dashboard import MAX_NAMED, _deadlines_panel, fold_series


def test_a_few_series_are_left_as_they_are():
    series = [(f"value-{number}", [number, 1]) for number in range(MAX_NAMED + 1)]

    assert fold_series(series) == series


def test_past_seven_series_the_largest_six_keep_their_names_and_order_and_the_rest_is_other():
    # Ten categories, as the aggression reports have: the palette has eight colours.
    series = [(f"category-{number}", [number, number % 3]) for number in range(10)]

    folded = fold_series(series)

    assert [name for name, _values in folded] == [
        "category-4",
        "category-5",
        "category-6",
        "category-7",
        "category-8",
        "category-9",
        OTHER,
    ]
    assert folded[-1] == (OTHER, [0 + 1 + 2 + 3, 0 + 1 + 2 + 0])
    totals = [sum(column) for column in zip(*(values for _name, values in series), strict=True)]
    assert [sum(column) for column in zip(*(v for _n, v in folded), strict=True)] == totals


def test_equal_totals_keep_the_first_ones_named():
    series = [(name, [1]) for name in "abcdefgh"]

    assert [name for name, _values in fold_series(series)] == [*"abcdef", OTHER]


def _month(day: date, acknowledge: timedelta | None, resolve: timedelta | None) -> MonthMetrics:
    return MonthMetrics(
        month=day,
        acknowledged=1 if acknowledge else 0,
        mean_time_to_acknowledge=acknowledge,
        resolved=1 if resolve else 0,
        mean_time_to_resolve=resolve,
        breaches=MappingProxyType({}),
    )


def test_mtta_in_minutes_and_mttr_in_weeks_each_get_an_axis_of_their_own():
    months = (
        _month(date(2026, 10, 1), timedelta(minutes=12), timedelta(days=9)),
        _month(date(2026, 11, 1), timedelta(minutes=30), None),
    )

    panel = _deadlines_panel(DeadlineFigures(open_breaches=(), months=months))

    assert panel.mtta_chart.maximum == 0.5  # 30 minutes: the top of its own axis
    assert panel.mttr_chart.maximum == 250  # 216 hours
    mtta_points = panel.mtta_chart.lines[0].points
    assert [point.value for point in mtta_points] == [0.2, 0.5]
    assert mtta_points[0].y < panel.mtta_chart.frame.bottom - 20  # well off the zero line
    assert [point.label for point in panel.mttr_chart.lines[0].points] == ["2026-10"]
    assert not panel.trend_is_empty
