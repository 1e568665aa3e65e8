"""The histogram above the event search (/events): counts per time bucket, drawn as SVG and
given as a table, each bucket a link that narrows the search to it.

The bucket choice is plain arithmetic (no database); the counts come from one aggregate
query on SQLite and on PostgreSQL, and must agree with what the search itself finds.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest

from ingest.search.histogram import MAX_BARS, plan_buckets
from tests.support.accounts import enrolled_user, sign_in
from tests.web.test_events_pages import event_ids, store_events
from tests.web.test_templates import Page, event_handlers, inline_scripts, style_attributes

DAY = datetime(2026, 1, 1, tzinfo=UTC)
DASH = "\N{EN DASH}"
ROW = re.compile(
    r'<th scope="row">(?:<a href="([^"]*)">)?([^<]*)(?:</a>)?</th>\s*<td>(\d+)</td>', re.S
)


def table_rows(page: str) -> list[tuple[str | None, str, int]]:
    """The histogram table: (link or None, period with "-" for its dash, count) per bucket."""
    return [
        (
            html.unescape(link) if link else None,
            html.unescape(period).replace(DASH, "-"),
            int(count),
        )
        for link, period, count in ROW.findall(page)
    ]


@pytest.fixture
def analyst(app, client, clock):
    account = enrolled_user(app, role="soc_analyst", username="analist")
    sign_in(client, account, clock)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return account


def at(hour: int, minute: int = 0) -> str:
    return (DAY + timedelta(hours=hour, minutes=minute)).isoformat()


# Choosing the buckets ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("span", "step", "bars"),
    [
        (timedelta(minutes=10), timedelta(minutes=1), 10),
        (timedelta(hours=1), timedelta(minutes=1), 60),
        (timedelta(hours=4), timedelta(minutes=5), 48),
        (timedelta(days=1), timedelta(minutes=30), 48),
        (timedelta(days=7), timedelta(hours=3), 56),
        (timedelta(days=30), timedelta(hours=12), 60),
        (timedelta(days=31), timedelta(days=1), 31),
        (timedelta(days=365), timedelta(days=7), 53),
        (timedelta(days=3650), timedelta(days=62), 60),
    ],
)
def test_the_bucket_is_the_smallest_that_gives_at_most_sixty_bars(span, step, bars):
    buckets = plan_buckets(DAY, DAY + span)
    assert (buckets.step, buckets.count) == (step, bars)
    assert buckets.count <= MAX_BARS


def test_buckets_are_aligned_and_the_outer_bars_cut_to_the_range():
    start = DAY + timedelta(minutes=7, seconds=30)
    buckets = plan_buckets(start, start + timedelta(hours=2))
    bars = buckets.bars({0: 2})
    assert buckets.first == DAY + timedelta(minutes=5)  # whole 5 minutes since 1970
    assert (bars[0].start, bars[0].end, bars[0].count) == (start, DAY + timedelta(minutes=10), 2)
    assert bars[-1].end == start + timedelta(hours=2)
    assert [bar.count for bar in bars[1:]] == [0] * (len(bars) - 1)


def test_an_empty_range_has_no_buckets():
    assert plan_buckets(DAY, DAY) is None


# On the page (SQLite and PostgreSQL) -------------------------------------------------------


def test_the_histogram_counts_matching_events_per_bucket_and_links_narrow_the_search(
    client, analyst, rollback_database
):
    ids = store_events(
        rollback_database,
        {"@timestamp": at(9, 5), "user": {"name": "root"}},
        {"@timestamp": at(9, 25), "user": {"name": "root"}},
        {"@timestamp": at(9, 40), "user": {"name": "alice"}},  # not matching
        {"@timestamp": at(15, 59), "user": {"name": "root"}},
        {"@timestamp": at(30), "user": {"name": "root"}},  # the next day: outside the range
    )
    asked = {"q": "user.name:root", "since": "2026-01-01", "until": "2026-01-01"}
    page = client.get("/events", query_string=asked).get_data(as_text=True)
    rows = table_rows(page)
    assert len(rows) == 48  # half hours of the day
    assert [(period, count) for _link, period, count in rows if count] == [
        ("2026-01-01 09:00 - 2026-01-01 09:30", 2),
        ("2026-01-01 15:30 - 2026-01-01 16:00", 1),
    ]
    assert (
        "3 matching events from 2026-01-01 00:00 to 2026-01-02 00:00 UTC, per 30 minutes." in page
    )
    assert all(link is None for link, _period, count in rows if not count)

    link = rows[18][0]  # 09:00 - 09:30
    assert "since=2026-01-01T09:00:00Z" in link
    assert "until=2026-01-01T09:29:59.999999Z" in link
    narrowed = client.get(link).get_data(as_text=True)
    assert event_ids(narrowed) == [ids[1], ids[0]]
    assert [(p, c) for _l, p, c in table_rows(narrowed) if c] == [
        ("2026-01-01 09:05 - 2026-01-01 09:06", 1),
        ("2026-01-01 09:25 - 2026-01-01 09:26", 1),
    ]


def test_the_chart_needs_no_script_and_no_inline_style(client, analyst, rollback_database):
    store_events(rollback_database, {"@timestamp": at(9), "message": "one"})
    page = client.get("/events", query_string={"since": "2026-01-01", "until": "2026-01-01"})
    parsed = Page(page.get_data(as_text=True))
    assert parsed.tagged("svg")
    assert parsed.tagged("rect")
    assert inline_scripts(parsed) == []
    assert event_handlers(parsed) == []
    assert style_attributes(parsed) == []


def test_an_open_range_runs_from_the_first_stored_event_to_now(client, analyst, rollback_database):
    store_events(rollback_database, {"@timestamp": at(-1, 10)}, {"@timestamp": at(-1, 50)})
    # An empty From (the page opened bare shows the last 24 hours); the clock says 2026-01-01.
    page = client.get("/events?since=").get_data(as_text=True)
    assert "2 matching events from 2025-12-31 23:10 to 2026-01-01 00:00 UTC, per 1 minute." in page


def test_no_histogram_when_nothing_matches(client, analyst, rollback_database):
    store_events(rollback_database, {"@timestamp": at(9), "user": {"name": "alice"}})
    page = client.get("/events", query_string={"q": "user.name:nobody"}).get_data(as_text=True)
    assert "No events match this search." in page
    assert "<svg" not in page


def test_the_widest_range_still_gives_at_most_sixty_bars(client, analyst, rollback_database):
    store_events(rollback_database, {"@timestamp": at(9), "message": "one"})
    asked = {"since": "0001-01-01", "until": "9999-12-31T23:59:59Z"}
    response = client.get("/events", query_string=asked)
    assert response.status_code == 200
    rows = table_rows(response.get_data(as_text=True))
    assert len(rows) <= 60
    assert sum(count for _link, _period, count in rows) == 1
