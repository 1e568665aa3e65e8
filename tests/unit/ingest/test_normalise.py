"""The last step for every event: keys that keep index order, checked fields, flags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ingest.normalise import finish, time_ordered_key
from ingest.parsers.base import ParseError

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_a_content_key_is_ordered_by_the_claimed_second_in_utc():
    claimed = datetime(2026, 11, 29, 11, 0, 5, tzinfo=timezone(timedelta(hours=1)))

    assert time_ordered_key(claimed, "abc") == "20261129100005~abc"
    assert time_ordered_key(None, "abc") == "-~abc"
    assert len(time_ordered_key(claimed, "f" * 64)) == 64


def test_the_same_input_gets_the_same_time_ordered_key_whenever_it_arrives():
    first = finish(
        {"@timestamp": "2026-11-29T10:00:00Z"},
        source="s",
        event_key="k",
        ingested=NOW,
        key_by_time=True,
    )
    later = finish(
        {"@timestamp": "2026-11-29T10:00:00Z"},
        source="s",
        event_key="k",
        ingested=NOW + timedelta(hours=1),
        key_by_time=True,
    )

    assert first.event_key == later.event_key == "20261129100000~k"


def test_without_key_by_time_the_key_is_kept_as_given():
    assert finish({}, source="s", event_key="i:4711", ingested=NOW).event_key == "i:4711"


@pytest.mark.parametrize("outcome", [[], {}, 1, "maybe"])
def test_an_outcome_outside_the_three_is_refused(outcome):
    with pytest.raises(ParseError, match=r"event\.outcome"):
        finish({"event": {"outcome": outcome}}, source="s", event_key="k", ingested=NOW)
