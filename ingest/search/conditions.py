"""What a search asks for, as plain values: the step between Lucene text and SQL.

``ingest.search.language`` turns a query into these; ``ingest.search.sql`` turns them
into a WHERE clause. Keeping the middle explicit lets the tests check the meaning of each
construct without a database, and gives another backend something typed to start from.

Every match is case-insensitive. A value with wildcards is a tuple of pieces: literal
text and ``Wildcard`` markers, so a literal ``*`` (written ``\\*``) never becomes one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

TIMESTAMP_FIELD = "@timestamp"
# Fields with a column of their own in the event table (the rest is read from the JSON).
INDEXED_FIELDS = frozenset(
    {"event.dataset", "host.name", "user.name", "source.ip", "event.outcome"}
)
# Free text, like Elasticsearch's analysed ``text`` fields: ``message:failed`` finds the
# word anywhere in the message instead of asking for a message that is exactly "failed".
TEXT_FIELDS = frozenset({"message", "event.original", "error.message"})


class Wildcard(Enum):
    ANY = "*"  # any text, also none
    ONE = "?"  # exactly one character


Piece = str | Wildcard


@dataclass(frozen=True, slots=True)
class Equals:
    """The whole value of ``field`` is ``value``."""

    field: str
    value: str


@dataclass(frozen=True, slots=True)
class Like:
    """The whole value of ``field`` matches the wildcard pattern ``pieces``."""

    field: str
    pieces: tuple[Piece, ...]


@dataclass(frozen=True, slots=True)
class Contains:
    """``pieces`` occurs somewhere in ``field``; ``field`` None: anywhere in the event."""

    field: str | None
    pieces: tuple[Piece, ...]


@dataclass(frozen=True, slots=True)
class Exists:
    """``field`` has a value (not missing, not null)."""

    field: str


Bound = float | datetime | str | None  # None: open on that side


@dataclass(frozen=True, slots=True)
class Between:
    """``field`` lies between ``low`` and ``high``: numbers, times (``@timestamp``) or text."""

    field: str
    low: Bound
    high: Bound
    include_low: bool = True
    include_high: bool = True


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    part: Condition


Condition = Equals | Like | Contains | Exists | Between | AllOf | AnyOf | Not
