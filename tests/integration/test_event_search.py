"""Event search on real SQLite and PostgreSQL: each kind of query finds exactly its events.

The events go in as log collection stores them (``ingest.normalise.finish`` then
``storage.events.append_events``); one of them is hostile (a forged log line, terminal
escapes, NUL, U+2028, bidi control, an SQL-looking user name), and it is present in every
search, so no query may break on it.
"""

from __future__ import annotations

import contextlib
import copy
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core import InvalidInput
from ingest.errors import InvalidQuery
from ingest.normalise import finish
from ingest.search import MAX_PAGE_SIZE, search_events
from ingest.search.cursor import EventCursor
from storage.events import Event, append_events

NOW = datetime(2026, 3, 1, tzinfo=UTC)
HOSTILE_MESSAGE = "x\n2026-01-01 INFO user=admin login ok \x1b[2J \x00 \u2028 \u202eevil"
EVENTS = {
    "root_fail": {
        "@timestamp": "2026-02-28T10:00:00Z",
        "message": "Failed password for root from 10.0.0.5 port 22 ssh2",
        "event": {"dataset": "system.auth", "outcome": "failure"},
        "user": {"name": "root"},
        "source": {"ip": "10.0.0.5", "port": 22},
        "host": {"name": "web-1"},
    },
    "alice_ok": {
        "@timestamp": "2026-02-28T11:00:00Z",
        "message": "Accepted publickey for Alice",
        "event": {"dataset": "system.auth", "outcome": "success"},
        "user": {"name": "Alice"},
        "source": {"ip": "192.168.1.7", "port": 50022},
        "host": {"name": "web-2"},
        "process": {"name": "sshd"},
    },
    "percent": {
        "@timestamp": "2026-02-27T09:00:00Z",
        "message": "disk 100% full_now",
        "user": {"name": "a%b_c"},
        "host": {"name": "db-1"},
        "labels": {"enabled": True},
    },
    "hostile": {
        "@timestamp": "2026-02-26T12:00:00Z",
        "message": HOSTILE_MESSAGE,
        "user": {"name": "x' OR 1=1 --"},
        "host": {"name": "back\\slash"},
        "source": {"port": "22"},
    },
    "quiet": {
        "@timestamp": "2026-02-25T12:00:00Z",
        "event": {"dataset": "windows.security", "code": 4625},
    },
}
NEWEST_FIRST = ["alice_ok", "root_fail", "percent", "hostile", "quiet"]


def store(session, documents: dict[str, dict]) -> dict[int, str]:
    """Store ``documents`` in order; returns event id → name."""
    records = [
        finish(copy.deepcopy(document), source="test", event_key=name, ingested=NOW)
        for name, document in documents.items()
    ]
    append_events(session, records)
    rows = session.execute(select(Event.id, Event.event_key).where(Event.source == "test"))
    return {row.id: row.event_key for row in rows}


@pytest.fixture
def names(db_session):
    """``names(query, **arguments)``: the names of the events found, newest first."""
    by_id = store(db_session, EVENTS)

    def names(query="", **arguments):
        page = search_events(db_session, query=query, now=NOW, **arguments)
        return [by_id[event.id] for event in page.events]

    return names


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("user.name:root", ["root_fail"]),
        ("user.name:ROOT", ["root_fail"]),
        ("user.name:alice", ["alice_ok"]),
        ('user.name:"x\' OR 1=1 --"', ["hostile"]),
        ("user.name:x'", []),
        ("event.dataset:system.auth", ["alice_ok", "root_fail"]),
        ("event.outcome:failure", ["root_fail"]),
        ("source.ip:10.0.0.5", ["root_fail"]),
        ("source.ip:10.0.*", ["root_fail"]),
        ("process.name:sshd", ["alice_ok"]),
        ("process.name:SSHD", ["alice_ok"]),
        ("event.code:4625", ["quiet"]),
        ("labels.enabled:true", ["percent"]),
        ("source.port:22", ["root_fail", "hostile"]),  # the number and the text "22"
    ],
)
def test_field_values_match_whole_values_without_case(names, query, expected):
    assert names(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("host.name:web-*", ["alice_ok", "root_fail"]),
        ("host.name:web-?", ["alice_ok", "root_fail"]),
        ("host.name:WEB*", ["alice_ok", "root_fail"]),
        ("host.name:*-1", ["root_fail", "percent"]),
        ('host.name:"web-*"', []),
        ("host.name:web\\-\\*", []),
        ("user.name:a*", ["alice_ok", "percent"]),
    ],
)
def test_wildcards_match_any_text_or_one_character(names, query, expected):
    assert names(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("user.name:%", []),
        ("user.name:_", []),
        ("user.name:a%b_c", ["percent"]),
        ("user.name:a_b%c", []),
        ("user.name:a?b?c", ["percent"]),
        ("user.name:?%?_c", ["percent"]),
        ("user.name:*!*", []),
        ("%", ["percent"]),
        ('"100%"', ["percent"]),
        ("full_now", ["percent"]),
        ("full?now", ["percent"]),
        ("host.name:back\\\\slash", ["hostile"]),
        ('"back\\\\slash"', ["hostile"]),
        ("host.name:back*slash", ["hostile"]),
        ('"1=1 --"', ["hostile"]),
    ],
)
def test_sql_and_like_characters_match_only_literally(names, query, expected):
    assert names(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("failed", ["root_fail"]),
        ('"Failed password"', ["root_fail"]),
        ('"password failed"', []),
        ("message:password", ["root_fail"]),
        ("message:PUBLICKEY", ["alice_ok"]),
        ("message:accept*alice", ["alice_ok"]),
        ('"INFO user=admin login ok"', ["hostile"]),
        ('"\x1b[2J"', ["hostile"]),
        ('"\u202eevil"', ["hostile"]),
        ("windows.security", ["quiet"]),
        ("*", NEWEST_FIRST),
        ("", NEWEST_FIRST),
    ],
)
def test_free_text_matches_anywhere_in_the_event(names, query, expected):
    assert names(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("process.name:*", ["alice_ok"]),
        ("user.name:*", ["alice_ok", "root_fail", "percent", "hostile"]),
        ("NOT user.name:*", ["quiet"]),
        ("no.such.field:*", []),
        ("@timestamp:*", NEWEST_FIRST),
    ],
)
def test_a_star_asks_whether_a_field_exists(names, query, expected):
    assert names(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("event.dataset:system.auth AND event.outcome:failure", ["root_fail"]),
        ("event.dataset:system.auth -event.outcome:failure", ["alice_ok"]),
        ("event.dataset:system.auth NOT event.outcome:failure", ["alice_ok"]),
        ("(user.name:root OR user.name:alice) AND host.name:web-2", ["alice_ok"]),
        ("user.name:(root OR alice)", ["alice_ok", "root_fail"]),
        ("NOT user.name:root", ["alice_ok", "percent", "hostile", "quiet"]),
        ("-event.dataset:system.auth", ["percent", "hostile", "quiet"]),
        ("user.name:root user.name:alice", []),
        ("+host.name:web* -user.name:root", ["alice_ok"]),
    ],
)
def test_boolean_operators_combine_conditions(names, query, expected):
    assert names(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("source.port:[1 TO 100]", ["root_fail"]),  # the text "22" is no number
        ("source.port:[22 TO 22]", ["root_fail"]),
        ("source.port:{22 TO 100]", []),
        ("source.port:>=1024", ["alice_ok"]),
        ("source.port:<50022", ["root_fail"]),
        ("source.port:[* TO 50022]", ["alice_ok", "root_fail"]),
        ("event.code:[4600 TO 4700]", ["quiet"]),
        ("host.name:[db TO web-1]", ["root_fail", "percent"]),
    ],
)
def test_ranges_compare_numbers_and_text(names, query, expected):
    assert names(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("@timestamp:[2026-02-27 TO 2026-02-28]", ["alice_ok", "root_fail", "percent"]),
        ("@timestamp:{2026-02-27 TO *]", ["alice_ok", "root_fail"]),
        ("@timestamp:2026-02-26", ["hostile"]),
        ('@timestamp:"2026-02-28T10:00:00Z"', ["root_fail"]),
        ("@timestamp:[now-3d TO now]", ["alice_ok", "root_fail", "percent", "hostile"]),
        ("@timestamp:<2026-02-26T12:00:00Z", ["quiet"]),
        ("@timestamp:[* TO 9999-12-31]", NEWEST_FIRST),
    ],
)
def test_timestamp_ranges_take_dates_times_and_now(names, query, expected):
    assert names(query) == expected


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"since": "2026-02-28"}, ["alice_ok", "root_fail"]),
        ({"until": "2026-02-26"}, ["hostile", "quiet"]),  # the whole day
        ({"since": "now-2d"}, ["alice_ok", "root_fail", "percent"]),
        ({"until": "2026-02-28T10:00:00Z"}, ["root_fail", "percent", "hostile", "quiet"]),
        (
            {"since": "2026-02-26T12:00:00Z", "until": "2026-02-27T09:00:00Z"},
            ["percent", "hostile"],
        ),
        ({"since": datetime(2026, 2, 28, 10, 30, tzinfo=UTC)}, ["alice_ok"]),
        ({"until": "9999-12-31"}, NEWEST_FIRST),
        ({"since": "0001-01-01"}, NEWEST_FIRST),
    ],
)
def test_the_time_range_bounds_the_events_own_time(names, arguments, expected):
    assert names(**arguments) == expected


def test_the_time_range_and_the_query_apply_together(names):
    assert names("event.dataset:system.auth", since="2026-02-28T10:30:00Z") == ["alice_ok"]


@pytest.mark.parametrize("limit", [1, 2, 3, 50])
def test_pages_follow_each_other_without_gaps_or_duplicates(db_session, limit):
    by_id = store(
        db_session, {f"e{number:03}": {"message": f"n{number % 2}"} for number in range(120)}
    )
    every_id = sorted(by_id, reverse=True)
    for query, expected in (
        ("", every_id),
        ("n0", [i for i in every_id if by_id[i][-1] in "02468"]),
    ):
        seen, before = [], None
        while True:
            page = search_events(db_session, query=query, before=before, limit=limit, now=NOW)
            assert len(page.events) <= limit
            seen.extend(event.id for event in page.events)
            before = page.next_before
            if before is None:
                break
            last = page.events[-1]
            assert before == str(EventCursor.of(last.timestamp, last.id))
        assert seen == expected


@pytest.mark.parametrize("limit", [1, 2, 4])
def test_pages_run_by_the_events_own_time_however_late_an_event_arrived(db_session, limit):
    # Stored out of time order (a shipper catching up): ids do not follow time; several
    # events share a moment, where the id decides.
    hours = [5, 1, 3, 3, 0, 5, 2, 3, 4, 1]
    by_id = store(
        db_session,
        {
            f"late{n}": {"@timestamp": f"2026-02-20T{hour:02}:00:00Z", "message": "m"}
            for n, hour in enumerate(hours)
        },
    )
    hour_of = {event_id: hours[int(name[4:])] for event_id, name in by_id.items()}
    expected = sorted(by_id, key=lambda event_id: (hour_of[event_id], event_id), reverse=True)
    seen, before = [], None
    while True:
        page = search_events(db_session, query="", before=before, limit=limit, now=NOW)
        seen.extend(event.id for event in page.events)
        if (before := page.next_before) is None:
            break
    assert seen == expected


@pytest.mark.parametrize(
    "before",
    ["12", "abc", "1-0", "1-", "-1", "1--2", "999999999999999999-1", "1-99999999999999999999"],
)
def test_a_cursor_that_is_none_of_ours_is_refused_clearly(db_session, before):
    with pytest.raises(InvalidInput) as refused:
        search_events(db_session, query="", before=before, now=NOW)
    assert (refused.value.field, refused.value.message) == ("before", "That page does not exist.")


def test_events_arriving_meanwhile_do_not_shift_the_older_pages(db_session):
    by_id = store(db_session, {f"old{number}": {"message": "m"} for number in range(6)})
    first = search_events(db_session, query="", limit=3, now=NOW)
    store(db_session, {f"new{number}": {"message": "m"} for number in range(4)})
    second = search_events(db_session, query="", before=first.next_before, limit=3, now=NOW)
    assert [event.id for event in first.events + second.events] == sorted(by_id, reverse=True)
    assert second.next_before is None


def test_the_page_size_is_capped_at_five_hundred(db_session):
    store(db_session, {f"e{number}": {"message": "m"} for number in range(MAX_PAGE_SIZE + 2)})
    page = search_events(db_session, query="", limit=10_000, now=NOW)
    assert len(page.events) == MAX_PAGE_SIZE
    assert (
        page.next_before
        == f"{page.events[-1].timestamp.timestamp():.0f}000000-{page.events[-1].id}"
    )
    rest = search_events(db_session, query="", before=page.next_before, limit=10_000, now=NOW)
    assert len(rest.events) == 2
    assert rest.next_before is None


def test_the_default_page_is_fifty_events(db_session):
    store(db_session, {f"e{number}": {"message": "m"} for number in range(51)})
    page = search_events(db_session, query="", now=NOW)
    assert len(page.events) == 50
    assert page.next_before is not None


def test_a_found_event_carries_its_fields_and_its_whole_document(names, db_session):
    [event] = search_events(db_session, query="user.name:root", now=NOW).events
    assert (event.dataset, event.host_name, event.user_name) == ("system.auth", "web-1", "root")
    assert (event.source_ip, event.outcome, event.flags) == ("10.0.0.5", "failure", ())
    assert event.timestamp == datetime(2026, 2, 28, 10, tzinfo=UTC)
    assert event.ingested == NOW
    assert event.document["source"] == {"ip": "10.0.0.5", "port": 22}
    assert event.summary == EVENTS["root_fail"]["message"]


def test_the_hostile_event_comes_back_exactly_as_it_was_sent(names, db_session):
    [event] = search_events(db_session, query='user.name:"x\' OR 1=1 --"', now=NOW).events
    assert event.document["message"] == HOSTILE_MESSAGE
    assert event.summary == HOSTILE_MESSAGE


def test_a_query_that_cannot_be_run_touches_no_database_state(names, db_session):
    with pytest.raises(InvalidQuery):
        search_events(db_session, query="user.name:roo~", now=NOW)
    assert names("user.name:root") == ["root_fail"]


QUERY_PARTS = st.sampled_from(
    ['user.name', 'source.port', 'message', '@timestamp', 'x.y', ':', '"', '(', ')', '[', ']',
     ' TO ', ' AND ', ' OR ', 'NOT ', '-', '*', '?', ' ', 'root', '22', '2026-02-28', 'now-1d',
     "'", '%', '_', '!', '\\\\', '\x1b', '\u2028', 'é', '1e308', '-5']
)  # fmt: skip


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(QUERY_PARTS, max_size=20).map("".join))
def test_no_query_makes_the_database_fail(names, db_session, text):
    with contextlib.suppress(
        InvalidQuery
    ):  # refused with a message is fine; a database error is not
        search_events(db_session, query=text, now=NOW)
