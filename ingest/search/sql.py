"""``conditions`` → a SQLAlchemy WHERE clause over ``storage.events.Event``.

Every value the user typed travels as a bound parameter; field names only choose a
column or become a bound JSON path (``document_field``), so nothing typed is ever part of
the SQL text. Wildcard patterns use LIKE with ``!`` as the escape
character (one that needs no backslash games in either dialect's string literals).

Each comparison is made two-valued (``value IS NOT NULL AND …``), so ``NOT user.name:x``
also finds events without a user, as in Elasticsearch, instead of SQL's NULL swallowing
them. Case is ignored with ``lower()`` on both sides: SQLite's ``lower`` folds ASCII only,
PostgreSQL's folds all of Unicode.

Document fields are read with ``storage.events.document_field`` (text; survives
``\\u0000`` on PostgreSQL; booleans as ``true``/``false`` on both) and ``document_number``
(JSON numbers only).

Free-text search runs LIKE over the stored JSON, so the searched text is first written
the way orjson writes it there (``"`` as ``\\"``, control characters as ``\\u001b``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import ColumnElement, String, and_, bindparam, func, not_, or_, true

from ingest.search.conditions import (
    TIMESTAMP_FIELD,
    AllOf,
    AnyOf,
    Between,
    Condition,
    Contains,
    Equals,
    Exists,
    Like,
    Not,
    Piece,
    Wildcard,
)
from storage.events import Event, document_field, document_number

LIKE_ESCAPE = "!"
COLUMNS: dict[str, Any] = {
    "event.dataset": Event.dataset,
    "host.name": Event.host_name,
    "user.name": Event.user_name,
    "source.ip": Event.source_ip,
    "event.outcome": Event.outcome,
}


def where(condition: Condition | None) -> ColumnElement[bool]:  # noqa: PLR0911 - a case per kind
    """The WHERE clause for ``condition`` (None: every event)."""
    if condition is None:
        return true()
    match condition:
        case AllOf(parts):
            return and_(*(where(part) for part in parts))
        case AnyOf(parts):
            return or_(*(where(part) for part in parts))
        case Not(part):
            return not_(where(part))
        case Exists(field):
            return true() if field == TIMESTAMP_FIELD else _value(field).is_not(None)
        case Equals(field, value):
            column = _value(field)
            return and_(column.is_not(None), func.lower(column) == func.lower(_text(value)))
        case Like(field, pieces):
            return _like(_value(field), like_pattern(pieces))
        case Contains(None, pieces):
            pattern = like_pattern((Wildcard.ANY, *pieces, Wildcard.ANY), encode=_as_json)
            return _like(Event.document.expression, pattern)
        case Contains(str(field), pieces):
            return _like(_value(field), like_pattern((Wildcard.ANY, *pieces, Wildcard.ANY)))
        case Between():
            return _between(condition)
    raise TypeError(f"not a search condition: {condition!r}")


def like_pattern(pieces: tuple[Piece, ...], *, encode: Callable[[str], str] = str) -> str:
    """A LIKE pattern: wildcards become ``%``/``_``, literal ``%``, ``_`` and ``!`` escaped."""
    parts = []
    for piece in pieces:
        if piece is Wildcard.ANY:
            parts.append("%")
        elif piece is Wildcard.ONE:
            parts.append("_")
        else:
            parts.append(_escape_like(encode(str(piece))))
    return "".join(parts)


def _escape_like(text: str) -> str:
    escaped = text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
    return escaped.replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")


def _as_json(text: str) -> str:
    """``text`` as it appears inside a JSON string written by orjson."""
    return orjson.dumps(text).decode()[1:-1]


def _value(field: str) -> ColumnElement[Any]:
    if field in COLUMNS:
        column: ColumnElement[Any] = COLUMNS[field]
        return column
    return document_field(tuple(field.split(".")))


def _text(value: str) -> ColumnElement[str]:
    return bindparam(None, value, type_=String())


def _like(column: ColumnElement[Any], pattern: str) -> ColumnElement[bool]:
    matches = func.lower(column).like(func.lower(_text(pattern)), escape=LIKE_ESCAPE)
    return and_(column.is_not(None), matches)


def _between(condition: Between) -> ColumnElement[bool]:
    column: ColumnElement[Any]
    low: Any = condition.low
    high: Any = condition.high
    if condition.field == TIMESTAMP_FIELD:
        column = Event.timestamp.expression
    elif isinstance(low, float) or isinstance(high, float):
        column = document_number(tuple(condition.field.split(".")))
    else:  # text, compared without case like everything else
        column = func.lower(_value(condition.field))
        low = None if low is None else func.lower(_text(str(low)))
        high = None if high is None else func.lower(_text(str(high)))
    tests = [column.is_not(None)]
    if low is not None:
        tests.append(column >= low if condition.include_low else column > low)
    if high is not None:
        tests.append(column <= high if condition.include_high else column < high)
    return and_(*tests)
