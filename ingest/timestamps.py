"""An event's own time, made UTC, and checked against the server's clock.

Sources lie about time: no zone, no year (RFC 3164), clocks hours off, epoch 0, 9999.
Nothing is dropped for it (SECURITY_CASES.md §5.8 #59): the event keeps the time it
claims when that can be read, gets a flag when it is suspect, and falls back to the
arrival time (flagged) when it cannot be read at all. Ordering, retention and deadlines
use ``event.ingested``, so a forged future time cannot keep an event on top of a queue.
"""

from __future__ import annotations

import functools
import math
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class Flag(StrEnum):
    """Quality flags an event may carry in ``wachter.flags`` (and the ``flags`` column)."""

    CLOCK_SKEW = "clock_skew"  # more than MAX_FUTURE ahead of us, or before EARLIEST
    TIMEZONE_ASSUMED = "timezone_assumed"  # the time had no zone: read as UTC
    TIMESTAMP_MISSING = "timestamp_missing"  # none given: the arrival time is used
    TIMESTAMP_INVALID = "timestamp_invalid"  # unreadable: the arrival time is used
    INVALID_UTF8 = "invalid_utf8"  # undecodable bytes kept as \\xNN
    TRUNCATED = "truncated"  # a field was cut to its limit


MAX_FUTURE = timedelta(minutes=5)
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
# Epoch numbers: seconds up to the year 5138, else milliseconds, else microseconds.
_EPOCH_SECONDS_MAX = 10**11
_LEAP_SECOND = re.compile(r"(T|\s)(\d\d:\d\d):60")


def parse_time(value: object) -> datetime | None:
    """A timestamp as sources write it (ISO 8601, RFC 3339, epoch numbers) → datetime.

    Naive results stay naive (``check_time`` decides what a missing zone means); None
    when the value cannot be read.
    """
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_epoch(_as_float(value))
    return _parse_text(value) if isinstance(value, str) else None


@functools.lru_cache(maxsize=4096)  # events of the same second share their time text
def _parse_text(value: str) -> datetime | None:
    text = value.strip()
    if not text or len(text) > 64:
        return None
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return _from_epoch(_as_float(text))
    # A leap second (23:59:60) is the last instant of its minute.
    text, leap = _LEAP_SECOND.subn(r"\1\2:59.999999", text, count=1)
    if leap and re.search(r":59\.999999\.\d+", text):
        text = re.sub(r"(:59\.999999)\.\d+", r"\1", text)
    text = text.replace(" ", "T", 1) if re.match(r"\d{4}-\d\d-\d\d \d", text) else text
    try:
        return datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None


def _as_float(value: int | float | str) -> float:
    try:
        return float(value)
    except OverflowError:  # an integer beyond a double (10**400): no time any source means
        return math.nan


def _from_epoch(number: float) -> datetime | None:
    if math.isnan(number) or number < 0:  # before 1970: not a time any source means
        return None
    for divisor in (1, 1_000, 1_000_000):
        if number / divisor < _EPOCH_SECONDS_MAX:
            try:
                return datetime.fromtimestamp(number / divisor, tz=UTC)
            except (OverflowError, OSError, ValueError):
                return None
    return None


def check_time(claimed: datetime | None, *, ingested: datetime) -> tuple[datetime, list[Flag]]:
    """The UTC time to store for an event claiming ``claimed``, with the flags it earned."""
    if claimed is None:
        return ingested, [Flag.TIMESTAMP_MISSING]
    flags: list[Flag] = []
    if claimed.tzinfo is None or claimed.utcoffset() is None:
        claimed = claimed.replace(tzinfo=UTC)
        flags.append(Flag.TIMEZONE_ASSUMED)
    try:
        in_utc = claimed.astimezone(UTC)
    except (OverflowError, ValueError):  # year 1 with a negative offset, year 9999 +
        return ingested, [*flags, Flag.TIMESTAMP_INVALID]
    if in_utc > ingested + MAX_FUTURE or in_utc < EARLIEST:
        flags.append(Flag.CLOCK_SKEW)
    return in_utc, flags


@functools.lru_cache(maxsize=4096)
def format_time(moment: datetime) -> str:
    """ECS ``@timestamp``: ISO 8601 in UTC with a ``Z`` and microseconds when there are any."""
    text = moment.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")
