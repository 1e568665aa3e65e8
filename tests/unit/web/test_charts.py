"""Chart geometry: values scale to a nice maximum with round ticks, stacked segments sit on
each other and add up to the bar, missing values break a line, and empty series are empty."""

from __future__ import annotations

import pytest

from web.charts import FRAME, horizontal_bars, line_chart, nice_max, stacked_bars, ticks


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 1), (-3, 1), (1, 1), (3, 5), (7, 10), (12, 20), (99, 100), (1200, 2000), (0.3, 0.5)],
)
def test_the_axis_top_is_the_next_round_value(value, expected):
    assert nice_max(value) == expected


def test_ticks_are_round_values_from_the_baseline_to_the_top():
    assert [tick.label for tick in ticks(20)] == ["0", "5", "10", "15", "20"]
    assert [tick.label for tick in ticks(2)] == ["0", "1", "2"]
    assert [tick.label for tick in ticks(2.5)] == ["0", "0.5", "1", "1.5", "2", "2.5"]
    bottom, top = ticks(10)[0], ticks(10)[-1]
    assert (bottom.y, top.y) == (FRAME.bottom, FRAME.top)


def test_stacked_segments_sit_on_each_other_and_fill_the_bar_to_its_total():
    chart = stacked_bars(["mon", "tue"], [("low", [1, 0]), ("high", [3, 2])])

    assert chart.maximum == 5
    first = chart.bars[0]
    assert first.total == 4
    low, high = first.segments
    assert (low.series, high.series) == (0, 1)
    assert low.y == pytest.approx(FRAME.bottom - low.height)
    assert high.y + high.height == pytest.approx(low.y)  # the second stands on the first
    assert low.height + high.height == pytest.approx((FRAME.bottom - FRAME.top) * 4 / 5)
    assert [segment.series for segment in chart.bars[1].segments] == [1]  # zeros draw nothing
    assert chart.series_total(1) == 5
    assert not chart.is_empty


def test_bars_share_the_width_and_only_some_labels_are_shown_on_30_days():
    chart = stacked_bars([f"{day:02d}" for day in range(1, 31)], [("alerts", [1] * 30)])

    assert all(bar.width == chart.bars[0].width for bar in chart.bars)
    assert chart.bars[0].x >= FRAME.left
    assert chart.bars[-1].x + chart.bars[-1].width <= FRAME.right
    shown = [bar.label for bar in chart.bars if bar.show_label]
    assert shown[-1] == "30"
    assert len(shown) <= 10


def test_an_empty_or_all_zero_series_is_an_empty_chart():
    assert stacked_bars([], []).is_empty
    assert stacked_bars(["a", "b"], [("x", [0, 0])]).is_empty
    assert line_chart(["a"], [("m", [None])]).is_empty


def test_a_series_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="2 values for 3 labels"):
        stacked_bars(["a", "b", "c"], [("x", [1, 2])])


def test_a_missing_value_breaks_the_line_instead_of_dropping_to_zero():
    chart = line_chart(["1", "2", "3", "4"], [("mtta", [1.0, None, 2.0, 4.0])])

    [line] = chart.lines
    assert [point.label for point in line.points] == ["1", "3", "4"]
    assert len(line.paths) == 1  # "1" stands alone; "3" to "4" is a line
    assert line.paths[0].count(",") == 2
    assert chart.maximum == 5
    assert line.points[-1].y == pytest.approx(FRAME.top + (FRAME.bottom - FRAME.top) * 0.2)


def test_horizontal_bars_are_measured_against_the_largest():
    bars = horizontal_bars([("busy", 8), ("quiet", 2)])
    assert [(bar.label, bar.width) for bar in bars] == [("busy", 100), ("quiet", 25)]
    assert horizontal_bars([("none", 0)])[0].width == 0
