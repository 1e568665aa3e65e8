"""The search language: Lucene text → conditions → SQL, without a database.

What each construct means is checked on the conditions (``parse_query``); that typed values
stay bound parameters is checked on the compiled SQL. Whether the SQL finds the right
events on SQLite and PostgreSQL is tests/integration/test_event_search.py's job.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from core import InvalidInput
from ingest.errors import InvalidQuery
from ingest.search import MAX_NESTING, MAX_QUERY_LENGTH, MAX_TERMS, parse_query, search_events
from ingest.search.conditions import (
    AllOf,
    AnyOf,
    Between,
    Contains,
    Equals,
    Exists,
    Like,
    Not,
    Wildcard,
)
from ingest.search.sql import like_pattern, where
from ingest.search.values import parse_time, word_pieces
from storage.events import Event

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ANY, ONE = Wildcard.ANY, Wildcard.ONE


def parsed(text: str):
    return parse_query(text, now=NOW)


def refusal(text: str) -> InvalidQuery:
    with pytest.raises(InvalidQuery) as raised:
        parsed(text)
    assert raised.value.field == "q"
    return raised.value


def compiled(text: str, dialect=None):
    statement = select(Event.id).where(where(parsed(text)))
    result = statement.compile(dialect=dialect or sqlite.dialect())
    return str(result), list(result.params.values())


# Fields and values -------------------------------------------------------------------


def test_an_indexed_field_with_a_word_asks_for_exactly_that_value():
    assert parsed("user.name:root") == Equals("user.name", "root")


def test_a_quoted_phrase_is_one_literal_value_with_its_spaces():
    assert parsed('user.name:"John Smith"') == Equals("user.name", "John Smith")


def test_any_dotted_name_reads_the_document():
    assert parsed("process.parent.name:sshd") == Equals("process.parent.name", "sshd")


def test_wildcards_in_a_word_become_a_pattern():
    assert parsed("host.name:web-*") == Like("host.name", ("web-", ANY))
    assert parsed("host.name:w?b*1") == Like("host.name", ("w", ONE, "b", ANY, "1"))


def test_escaped_wildcards_and_quotes_inside_phrases_are_literal():
    assert parsed(r"file.name:a\*b") == Equals("file.name", "a*b")
    assert parsed('file.name:"a*b?"') == Equals("file.name", "a*b?")
    assert parsed(r'message:"say \"hi\""') == Contains("message", ('say "hi"',))


def test_a_lone_star_asks_whether_the_field_exists():
    assert parsed("process.name:*") == Exists("process.name")
    assert parsed("user.name:[* TO *]") == Exists("user.name")


def test_the_message_is_free_text_matched_anywhere_inside():
    assert parsed("message:failed") == Contains("message", ("failed",))
    assert parsed("event.original:fail*") == Contains("event.original", ("fail", ANY))


def test_bare_words_and_phrases_match_anywhere_in_the_event():
    assert parsed("sshd") == Contains(None, ("sshd",))
    assert parsed('"Failed password"') == Contains(None, ("Failed password",))
    assert parsed("*") == Contains(None, (ANY,))


def test_an_empty_query_matches_everything():
    assert parsed("") is None
    assert parsed("   ") is None


# Operators -------------------------------------------------------------------------------


def test_and_or_not_and_parentheses_keep_their_structure():
    assert parsed("a:1 AND (b:2 OR NOT c:3)") == AllOf(
        (Equals("a", "1"), AnyOf((Equals("b", "2"), Not(Equals("c", "3")))))
    )


def test_terms_side_by_side_must_all_match():
    assert parsed("a:1 b:2") == AllOf((Equals("a", "1"), Equals("b", "2")))


def test_a_minus_excludes_and_a_plus_requires():
    assert parsed("+a:1 -b:2") == AllOf((Equals("a", "1"), Not(Equals("b", "2"))))


def test_and_binds_tighter_than_or():
    assert parsed("a:1 OR b:2 AND c:3") == AnyOf(
        (Equals("a", "1"), AllOf((Equals("b", "2"), Equals("c", "3"))))
    )


def test_a_field_applies_to_every_value_in_its_group():
    assert parsed("user.name:(root OR admin*)") == AnyOf(
        (Equals("user.name", "root"), Like("user.name", ("admin", ANY)))
    )
    assert parsed("user.name:(-root)") == Not(Equals("user.name", "root"))


def test_lowercase_and_is_a_word_like_elasticsearch():
    assert parsed("a:1 and") == AllOf((Equals("a", "1"), Contains(None, ("and",))))


# Ranges and times ----------------------------------------------------------------------


def test_a_range_of_numbers_on_a_document_field_compares_numbers():
    assert parsed("source.port:[1 TO 1024]") == Between("source.port", 1.0, 1024.0)
    assert parsed("source.port:{1 TO 1024}") == Between("source.port", 1.0, 1024.0, False, False)
    assert parsed("x:[-5 TO 2.5e1]") == Between("x", -5.0, 25.0)


def test_open_ended_ranges_and_comparisons():
    assert parsed("source.port:[1024 TO *]") == Between("source.port", 1024.0, None)
    assert parsed("source.port:>1024") == Between("source.port", 1024.0, None, False, True)
    assert parsed("source.port:<=22") == Between("source.port", None, 22.0, True, True)


def test_a_range_of_words_compares_text():
    assert parsed("user.name:[a TO m]") == Between("user.name", "a", "m")
    assert parsed("x:[1 TO b]") == Between("x", "1", "b")
    # Indexed fields hold text even when the bounds look like numbers.
    assert parsed("source.ip:[10 TO 11]") == Between("source.ip", "10", "11")


def test_a_timestamp_range_takes_iso_times_and_relative_ones():
    assert parsed("@timestamp:[2026-02-01T10:00:00Z TO now-1h]") == Between(
        "@timestamp", datetime(2026, 2, 1, 10, tzinfo=UTC), NOW - timedelta(hours=1)
    )


def test_a_bare_date_as_the_end_of_a_range_takes_its_whole_day():
    assert parsed("@timestamp:[2026-01-01 TO 2026-01-31]") == Between(
        "@timestamp",
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 2, 1, tzinfo=UTC),
        True,
        False,
    )
    assert parsed("@timestamp:{2026-01-01 TO 2026-01-31}") == Between(
        "@timestamp",
        datetime(2026, 1, 2, tzinfo=UTC),
        datetime(2026, 1, 31, tzinfo=UTC),
        True,
        False,
    )


def test_a_timestamp_value_is_its_instant_or_its_day():
    day = datetime(2026, 2, 3, tzinfo=UTC)
    assert parsed("@timestamp:2026-02-03") == Between(
        "@timestamp", day, day + timedelta(days=1), True, False
    )
    instant = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert parsed('@timestamp:"2026-02-03T04:05:06Z"') == Between("@timestamp", instant, instant)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("now-24h", NOW - timedelta(hours=24)),
        ("now-7d", NOW - timedelta(days=7)),
        ("now-30m", NOW - timedelta(minutes=30)),
        ("now-2w", NOW - timedelta(weeks=2)),
        ("now+10s", NOW + timedelta(seconds=10)),
        ("2026-01-31T14:00:00Z", datetime(2026, 1, 31, 14, tzinfo=UTC)),
        ("2026-01-31T14:00:00+01:00", datetime(2026, 1, 31, 13, tzinfo=UTC)),
        ("2026-01-31T14:00:00", datetime(2026, 1, 31, 14, tzinfo=UTC)),  # no zone: UTC
    ],
)
def test_times_are_read_as_utc(text, expected):
    assert parse_time(text, now=NOW) == (expected, False)


@pytest.mark.parametrize(
    "text", ["yesterday", "now-1y", "now-24", "now - 1h", "now-9999999d", "now-999999w",
             "2026-02-30", "0001-01-01T00:00:00+01:00", "", "9" * 65]
)  # fmt: skip
def test_what_is_not_a_time_is_none(text):
    assert parse_time(text, now=NOW) is None


# Refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words", "position"),
    [
        ("user.name:roo~1", "Fuzzy search (~) is not supported (character 11)", 10),
        ('message:"a b"~3', "Proximity search", 8),
        ("user.name:root^2", "Boosting (^) is not supported (character 11)", 10),
        ("user.name:/ro+t/", "Regular expressions (/…/) are not supported (character 11)", 10),
        ("a:b:c", "A field cannot hold another field (character 3)", 2),
        ("[1 TO 5]", "A range needs a field (character 1)", 0),
        ("x:[a* TO b]", "A range bound cannot hold a wildcard (character 4)", 3),
        ("@timestamp:2026*", "@timestamp takes a time or a range, not a wildcard", 11),
        ("@timestamp:[yesterday TO now]", "“yesterday” is not a time (character 12)", 11),
        ("user\\:name:x", "“user\\:name” is not a field name (character 1)", 0),
        ("a..b:x", "“a..b” is not a field name", 0),
        ("user.*:x", "“user.*” is not a field name", 0),
        (f"{'a' * 101}:x", "is not a field name", 0),
    ],
)
def test_unsupported_syntax_is_refused_with_where_it_is(text, words, position):
    error = refusal(text)
    assert words in error.message
    assert error.position == position


@pytest.mark.parametrize(
    ("text", "words", "position"),
    [
        ("user.name:", "The query ends too early", 10),
        ("(a OR b", "The query ends too early", 7),
        ("a AND OR b", "cannot be read at character 7, near “OR b”", 6),
        (":x", "cannot be read at character 1", 0),
        ('message:"not closed', "cannot be read from character 9: a quote is not closed", 8),
        ("a\\", "cannot be read from character 2", 1),
        ('x "at position 1', "cannot be read from character 3", 2),
    ],
)
def test_a_syntax_error_says_where_reading_stopped(text, words, position):
    error = refusal(text)
    assert words in error.message
    assert error.position == position


def test_a_query_over_the_length_limit_is_refused_before_parsing():
    assert parsed("a" * MAX_QUERY_LENGTH) == Contains(None, ("a" * MAX_QUERY_LENGTH,))
    error = refusal("a" * (MAX_QUERY_LENGTH + 1))
    assert error.message == "The query is longer than 2000 characters."


def test_more_than_fifty_terms_are_refused():
    assert isinstance(parsed(" ".join(["a"] * MAX_TERMS)), AllOf)
    assert refusal(" ".join(["a"] * (MAX_TERMS + 1))).message == "The query has more than 50 terms."


def test_twenty_levels_of_nesting_are_allowed():
    assert parsed("(" * MAX_NESTING + "a:1" + ")" * MAX_NESTING) == Equals("a", "1")
    assert parsed("NOT " * MAX_NESTING + "a:1") is not None


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 450])
@pytest.mark.parametrize(
    "build",
    [
        lambda n: "(" * n + "a" + ")" * n,
        lambda n: "NOT " * n + "a",
        lambda n: "-" * n + "a",
        lambda n: "x:(" * n + "a" + ")" * n,
    ],
)
def test_deep_nesting_is_refused_without_crashing(depth, build):
    query = build(depth)
    assert len(query) <= MAX_QUERY_LENGTH
    assert "nested more than 20 levels deep" in refusal(query).message


def test_a_chain_of_fields_is_refused_without_crashing():
    assert "A field cannot hold another field" in refusal("a:" * 999 + "b").message


def test_a_nul_character_is_refused_with_its_place():
    error = refusal("user.name:a\x00b")
    assert error.message == "The query contains a NUL character (character 12)."
    assert error.position == 11


@pytest.mark.parametrize(
    ("since", "until", "field", "words"),
    [
        ("yesterday", None, "since", "“yesterday” is not a time"),
        (None, "2026-13-01", "until", "“2026-13-01” is not a time"),
        ("2026-02-01", "2026-01-01", "since", "The start of the time range is after its end."),
    ],
)
def test_a_bad_time_range_is_refused(since, until, field, words):
    with pytest.raises(InvalidInput) as raised:
        search_events(None, query="", since=since, until=until, now=NOW)
    assert raised.value.field == field
    assert words in raised.value.message


@pytest.mark.parametrize(
    ("before", "limit"),
    [("1-0", 50), ("1", 50), (f"1-{2**63}", 50), ("1-1 OR 1=1", 50), (None, 0)],
)
def test_a_page_cursor_or_size_out_of_range_is_refused(before, limit):
    with pytest.raises(InvalidInput):
        search_events(None, query="", before=before, limit=limit, now=NOW)


# Values never become SQL -------------------------------------------------------------------


def test_like_patterns_escape_percent_underscore_and_the_escape_character():
    assert like_pattern(word_pieces("a%b_c!d*e?")) == "a!%b!_c!!d%e_"
    assert like_pattern(("100%",)) == "100!%"


@pytest.mark.parametrize(
    ("query", "bound"),
    [
        ('user.name:"x\' OR 1=1 --"', "x' OR 1=1 --"),
        ("a:%", "%"),
        ("a:_", "_"),
        ("a:*%*", "%!%%"),
        ("a:*_*", "%!_%"),
        ("a:\\\\", "\\"),
        ('user.name:"\\\\\'; DROP TABLE event; --"', "\\'; DROP TABLE event; --"),
        ('"\'); DELETE FROM event; --"', "%'); DELETE FROM event; --%"),
    ],
)
@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "pg"])
def test_typed_values_are_bound_parameters_never_sql(query, bound, dialect):
    sql_text, params = compiled(query, dialect)
    assert bound in params
    for fragment in ("OR 1=1", "DROP", "DELETE", "--"):
        assert fragment not in sql_text


def test_field_names_are_bound_as_json_paths():
    sql_text, params = compiled("a-b.c@d:x")
    assert "a-b" not in sql_text
    assert '$."a-b"."c@d"' in params


def test_free_text_is_searched_as_it_is_written_inside_the_stored_json():
    _, params = compiled(r'"say \"hi\" C:\\dir"')
    assert '%say \\"hi\\" C:\\\\dir%' in params


def test_negation_also_finds_events_without_the_field():
    sql_text, _ = compiled("NOT user.name:root")
    assert "NOT (event.user_name IS NOT NULL AND lower(event.user_name) = lower(?))" in sql_text


# Fuzzing ----------------------------------------------------------------------------------

QUERY_PARTS = st.sampled_from(
    ['a', 'user.name', ':', '"', '\\', '(', ')', '[', ']', '{', '}', ' TO ', ' AND ', ' OR ',
     'NOT ', '-', '+', '*', '?', '~', '^', '/', '>', '<', '=', ' ', '@timestamp', 'now-1h',
     '2026-01-01', '5', "'", '%', '_', '!', '\x1b', '\u2028', 'é']
)  # fmt: skip


def outcome(text):
    """(conditions, None) or (None, the refusal)."""
    try:
        return parsed(text), None
    except InvalidQuery as error:
        return None, error


@settings(max_examples=300, deadline=None)
@given(st.lists(QUERY_PARTS, max_size=30).map("".join))
def test_any_query_either_translates_or_is_refused_clearly(text):
    condition, error = outcome(text)
    if error is not None:
        assert error.message
        assert error.position is None or 0 <= error.position <= len(text)
        return
    statement = select(Event.id).where(where(condition))
    statement.compile(dialect=sqlite.dialect())
    statement.compile(dialect=postgresql.dialect())


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_at_all_translates_or_is_refused_clearly(text):
    _condition, error = outcome(text)
    assert error is None or error.message
