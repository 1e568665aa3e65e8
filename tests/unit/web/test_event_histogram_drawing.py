"""The event histogram's layout: bars scale to the highest, fill the chart's width, and each
non-empty bar links to a search narrowed to its own bucket (the inclusive last moment)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from flask import Flask

from ingest.search.histogram import Bar, Histogram
from web.event_histogram import PLOT, TOP, WIDTH, draw

START = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def drawn(counts, query="user.name:root"):
    app = Flask(__name__)
    app.add_url_rule("/events", "events.search")
    bars = tuple(
        Bar(START + n * HOUR, START + (n + 1) * HOUR, count) for n, count in enumerate(counts)
    )
    with app.test_request_context():
        return draw(Histogram(step=HOUR, bars=bars), query=query)


def test_the_highest_bar_fills_the_plot_and_the_others_scale_to_it():
    chart = drawn([4, 0, 2])
    heights = [float(bar.height) for bar in chart.bars]
    assert heights == [PLOT, 1, PLOT / 2]  # an empty bar is a 1-pixel line
    assert [float(bar.y) + float(bar.height) for bar in chart.bars] == [TOP + PLOT] * 3
    assert float(chart.bars[-1].slot_x) + float(chart.bars[-1].slot_width) == WIDTH


def test_each_non_empty_bar_links_to_its_own_bucket_with_the_query():
    chart = drawn([4, 0, 2])
    assert chart.bars[1].link is None
    link = urlsplit(chart.bars[2].link)
    assert link.path == "/events"
    assert parse_qs(link.query) == {
        "q": ["user.name:root"],
        "since": ["2026-01-01T02:00:00Z"],
        "until": ["2026-01-01T02:59:59.999999Z"],
    }
    assert chart.bars[2].period == "2026-01-01 02:00 \N{EN DASH} 2026-01-01 03:00"


def test_without_a_query_the_links_carry_only_the_time_range():
    link = drawn([1], query=None).bars[0].link
    assert set(parse_qs(urlsplit(link).query)) == {"since", "until"}
