"""The values inside a query: escapes, wildcards, numbers and times.

Lucene keeps a backslash before an escaped character (``a\\*b`` is the three characters
``a*b``); an unescaped ``*`` or ``?`` is a wildcard, except inside a quoted phrase, where
Elasticsearch reads everything literally, and so do we.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from ingest.search.conditions import Piece, Wildcard

_WILDCARDS = {"*": Wildcard.ANY, "?": Wildcard.ONE}
_NUMBER = re.compile(r"[-+]?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?", re.ASCII)
_RELATIVE = re.compile(r"now(?:([-+])([0-9]{1,6})([smhdw]))?", re.ASCII)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
MAX_TIME_LENGTH = 64


def word_pieces(raw: str) -> tuple[Piece, ...]:
    """A Lucene word (escapes still in it) as literal text and wildcards."""
    pieces: list[Piece] = []
    literal: list[str] = []
    characters = iter(raw)
    for character in characters:
        if character == "\\":
            # A trailing lone backslash cannot get here (luqum refuses it); keep it if it does.
            literal.append(next(characters, "\\"))
        elif character in _WILDCARDS:
            if literal:
                pieces.append("".join(literal))
                literal = []
            pieces.append(_WILDCARDS[character])
        else:
            literal.append(character)
    if literal or not pieces:
        pieces.append("".join(literal))
    return tuple(pieces)


def phrase_text(raw: str) -> str:
    """A Lucene phrase (``"…"``, escapes still in it) as the text it stands for."""
    return unescape(raw[1:-1])


def unescape(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw, flags=re.DOTALL)


def is_literal(pieces: tuple[Piece, ...]) -> bool:
    return all(isinstance(piece, str) for piece in pieces)


def joined(pieces: tuple[Piece, ...]) -> str:
    """Literal pieces as one text (call ``is_literal`` first)."""
    return "".join(piece for piece in pieces if isinstance(piece, str))


def parse_number(text: str) -> float | None:
    """A plain decimal number (``-5``, ``1.5``, ``2e3``), else None (also for inf, nan)."""
    if not _NUMBER.fullmatch(text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def parse_time(text: str, *, now: datetime) -> tuple[datetime, bool] | None:
    """ISO 8601 (no zone means UTC) or ``now``, ``now-24h``, ``now-7d`` (units s m h d w).

    Returns the UTC time and whether only a date was given (so a caller can take the
    whole day), or None when the text is not a time.
    """
    text = text.strip()
    if not text or len(text) > MAX_TIME_LENGTH:
        return None
    relative = _RELATIVE.fullmatch(text)
    try:
        if relative:
            return _relative_time(now, *relative.groups()), False
        moment = datetime.fromisoformat(text.replace("z", "Z"))
        if moment.tzinfo is None or moment.utcoffset() is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC), bool(_DATE_ONLY.fullmatch(text))
    except ValueError:
        return None
    except OverflowError:  # now-999999w, or 0001-01-01T00:00+01:00 before the first UTC day
        return None


def _relative_time(now: datetime, sign: str | None, amount: str, unit: str) -> datetime:
    if sign is None:
        return now.astimezone(UTC)
    offset = timedelta(**{_UNITS[unit]: int(amount)})
    return (now - offset if sign == "-" else now + offset).astimezone(UTC)


def end_of_day(moment: datetime) -> datetime | None:
    """The midnight after ``moment``'s day; None past the last day a datetime can hold."""
    try:
        return moment + timedelta(days=1)
    except OverflowError:
        return None
