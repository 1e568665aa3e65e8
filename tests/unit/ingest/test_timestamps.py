"""An event's own time: read in the forms sources write, made UTC, flagged when suspect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ingest.timestamps import Flag, check_time, format_time, parse_time

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-29T10:00:00Z", datetime(2026, 11, 29, 10, tzinfo=UTC)),
        ("2026-11-29 10:00:00.123456+01:00", datetime(2026, 11, 29, 9, 0, 0, 123456, tzinfo=UTC)),
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        (1764410400, datetime(2025, 11, 29, 10, tzinfo=UTC)),
        (1764410400000, datetime(2025, 11, 29, 10, tzinfo=UTC)),
        ("1764410400.5", datetime(2025, 11, 29, 10, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_the_usual_forms_are_read(value, expected):
    assert parse_time(value).astimezone(UTC) == expected


@pytest.mark.parametrize(
    "value", ["", "yesterday", "-5", -5, 10**400, "9" * 70, float("nan"), True, None, [2026]]
)
def test_what_is_no_time_is_none_never_an_error(value):
    assert parse_time(value) is None


def test_a_time_without_zone_is_read_as_utc_and_flagged():
    moment, flags = check_time(datetime(2026, 11, 29, 10), ingested=NOW)

    assert moment == datetime(2026, 11, 29, 10, tzinfo=UTC)
    assert flags == [Flag.TIMEZONE_ASSUMED]


@pytest.mark.parametrize(
    "claimed",
    [
        NOW + timedelta(minutes=6),
        datetime(9999, 12, 31, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
    ],
)
def test_times_far_from_now_keep_their_value_and_get_clock_skew(claimed):
    moment, flags = check_time(claimed, ingested=NOW)

    assert moment == claimed
    assert flags == [Flag.CLOCK_SKEW]


def test_a_few_minutes_ahead_is_tolerated():
    assert check_time(NOW + timedelta(minutes=4), ingested=NOW)[1] == []


def test_no_time_falls_back_to_arrival_with_a_flag():
    assert check_time(None, ingested=NOW) == (NOW, [Flag.TIMESTAMP_MISSING])


def test_a_time_that_cannot_be_made_utc_falls_back_to_arrival():
    edge = datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-2)))

    assert check_time(edge, ingested=NOW) == (NOW, [Flag.TIMESTAMP_INVALID])


def test_format_is_iso_utc_with_z():
    assert format_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
