"""Chart geometry for the console's server-side SVG charts: series in, coordinates out.

The dashboard draws its charts as inline SVG (no chart script: the CSP allows none inline and
a page must work without JavaScript). These pure functions turn series of numbers into the
positions of bars, segments, lines and axis ticks in a fixed ``viewBox``; the Jinja macros in
``web/templates/_charts.html`` only draw what they are given. Keeping the arithmetic here makes
it testable without a browser: scaling to a "nice" maximum, stacking, and empty series (a chart
with nothing in it gets ``is_empty`` so the page shows what to do instead of empty axes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

BAR_GAP = 0.2  # share of each slot left empty between bars
MAX_LABELS = 10  # at most this many category labels under an axis, so they never overlap


@dataclass(frozen=True)
class Frame:
    """The viewBox (``width`` x ``height``) and the plot area inside it. The SVG scales to
    its panel's width, and its text with it: a narrow panel gets a narrower viewBox
    (``COMPACT``) so its labels stay as large as a wide panel's."""

    width: float = 600
    height: float = 220
    left: float = 44  # room for the value axis labels
    right: float = 592
    top: float = 10
    bottom: float = 192  # the category axis; room for its labels below
    max_labels: int = MAX_LABELS

    @property
    def label_y(self) -> float:
        return self.bottom + 18  # the baseline of the category labels

    @property
    def plot_width(self) -> float:
        return self.right - self.left

    @property
    def plot_height(self) -> float:
        return self.bottom - self.top


FRAME = Frame()
COMPACT = Frame(width=340, height=220, left=36, right=334, max_labels=6)
# Three charts side by side: a narrower viewBox again, and every other month labelled.
SMALL = Frame(width=260, height=200, left=30, right=254, bottom=172, max_labels=3)


def nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value`` (the top of a
    value axis); 1 when there is nothing to show."""
    if value <= 0 or not math.isfinite(value):
        return 1
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power + 1e-9 * power:
            nice = round(step * power, 10)  # 2.5 * 0.1 is 0.25000000000000006
            return int(nice) if nice >= 1 and float(nice).is_integer() else nice
    return 10 * power  # pragma: no cover - the loop always returns


@dataclass(frozen=True)
class Tick:
    value: float
    y: float  # from the top of the viewBox

    @property
    def label(self) -> str:
        return f"{self.value:g}"


def ticks(maximum: float, frame: Frame = FRAME) -> tuple[Tick, ...]:
    """Evenly spaced ticks from 0 to ``maximum`` (a ``nice_max``) at round values, bottom
    first: 0 1 2 for 2, 0 5 10 15 20 for 20, 0 0.5 … 2.5 for 2.5."""
    if float(maximum).is_integer() and maximum <= 5:
        count = max(1, int(maximum))
    else:
        leading = maximum / 10 ** math.floor(math.log10(maximum))
        count = 4 if round(leading, 6) == 2 else 5
    return tuple(
        Tick(value=_round(maximum * index / count), y=_y(maximum * index / count, maximum, frame))
        for index in range(count + 1)
    )


@dataclass(frozen=True)
class Segment:
    series: int  # index of the series (its colour class and legend entry)
    value: float
    y: float
    height: float


@dataclass(frozen=True)
class Bar:
    label: str
    x: float
    width: float
    total: float
    segments: tuple[Segment, ...]
    show_label: bool  # a label under every bar would overlap on 30 days

    @property
    def label_x(self) -> float:
        return _round(self.x + self.width / 2)


@dataclass(frozen=True)
class BarChart:
    labels: tuple[str, ...]
    series: tuple[str, ...]  # series names, in stacking order (bottom first)
    values: tuple[tuple[float, ...], ...]  # values[series][label], for the table equivalent
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    maximum: float
    frame: Frame = FRAME

    @property
    def is_empty(self) -> bool:
        return all(bar.total == 0 for bar in self.bars)

    def series_total(self, index: int) -> float:
        return sum(self.values[index])


def stacked_bars(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    frame: Frame = FRAME,
) -> BarChart:
    """One bar per label, each series stacked on the ones before it (a single series: bars)."""
    for name, values in series:
        if len(values) != len(labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(labels)} labels")
    totals = [sum(values[index] for _name, values in series) for index in range(len(labels))]
    maximum = nice_max(max(totals, default=0))
    slot = frame.plot_width / max(len(labels), 1)
    every = max(1, math.ceil(len(labels) / frame.max_labels))
    bars: list[Bar] = []
    for index, label in enumerate(labels):
        segments: list[Segment] = []
        base = 0.0
        for number, (_name, values) in enumerate(series):
            value = values[index]
            if value > 0:
                top = base + value
                height = _y(base, maximum, frame) - _y(top, maximum, frame)
                segments.append(Segment(number, value, _y(top, maximum, frame), _round(height)))
                base = top
        bars.append(
            Bar(
                label=label,
                x=_round(frame.left + slot * index + slot * BAR_GAP / 2),
                width=_round(slot * (1 - BAR_GAP)),
                total=totals[index],
                segments=tuple(segments),
                show_label=(len(labels) - 1 - index) % every == 0,  # always the latest
            )
        )
    return BarChart(
        labels=tuple(labels),
        series=tuple(name for name, _values in series),
        values=tuple(tuple(values) for _name, values in series),
        bars=tuple(bars),
        ticks=ticks(maximum, frame),
        maximum=maximum,
        frame=frame,
    )


@dataclass(frozen=True)
class Point:
    label: str
    value: float
    x: float
    y: float


@dataclass(frozen=True)
class Line:
    name: str
    points: tuple[Point, ...]  # only where there is a value
    paths: tuple[str, ...]  # SVG polyline "x,y x,y" runs; a missing value breaks the line


@dataclass(frozen=True)
class LineChart:
    labels: tuple[str, ...]
    label_x: tuple[float, ...]
    lines: tuple[Line, ...]
    ticks: tuple[Tick, ...]
    maximum: float
    frame: Frame = FRAME

    @property
    def is_empty(self) -> bool:
        return all(not line.points for line in self.lines)


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    frame: Frame = FRAME,
) -> LineChart:
    """A line per series over the labels; ``None`` is "no value" (a gap, not a zero)."""
    present = [value for _name, values in series for value in values if value is not None]
    maximum = nice_max(max(present, default=0))
    step = frame.plot_width / max(len(labels), 1)
    xs = tuple(_round(frame.left + step * index + step / 2) for index in range(len(labels)))
    lines: list[Line] = []
    for name, values in series:
        if len(values) != len(labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(labels)} labels")
        points: list[Point] = []
        runs: list[list[str]] = [[]]
        for index, value in enumerate(values):
            if value is None:
                runs.append([])
                continue
            point = Point(labels[index], value, xs[index], _y(value, maximum, frame))
            points.append(point)
            runs[-1].append(f"{point.x:g},{point.y:g}")
        paths = tuple(" ".join(run) for run in runs if len(run) > 1)
        lines.append(Line(name=name, points=tuple(points), paths=paths))
    return LineChart(
        labels=tuple(labels),
        label_x=xs,
        lines=tuple(lines),
        ticks=ticks(maximum, frame),
        maximum=maximum,
        frame=frame,
    )


@dataclass(frozen=True)
class HorizontalBar:
    label: str
    value: float
    width: float  # share of the full length, 0 to 100 (percent of the viewBox width)


def horizontal_bars(items: Sequence[tuple[str, float]]) -> tuple[HorizontalBar, ...]:
    """Bars against the largest value (a top-10 list); lengths in percent."""
    largest = max((value for _label, value in items), default=0)
    return tuple(
        HorizontalBar(label, value, _round(100 * value / largest) if largest > 0 else 0)
        for label, value in items
    )


def _y(value: float, maximum: float, frame: Frame) -> float:
    return _round(frame.top + frame.plot_height * (1 - value / maximum))


def _round(value: float) -> float:
    # Two decimals keep the SVG short and the tests exact.
    return round(value, 2)
