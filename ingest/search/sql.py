"""``conditions`` → a SQLAlchemy WHERE clause over ``storage.events.Event``.

Every value the user typed travels as a bound parameter; field names only choose a
column or become a bound JSON path (``document_text``), so nothing typed is ever part of
the SQL text. Wildcard patterns use LIKE with ``!`` as the escape
character (one that needs no backslash games in either dialect's string literals).

Each comparison is made two-valued (``value IS NOT NULL AND …``), so ``NOT user.name:x``
also finds events without a user, as in Elasticsearch, instead of SQL's NULL swallowing
them. Case is ignored with ``lower()`` on both sides: SQLite's ``lower`` folds ASCII only,
PostgreSQL's folds all of Unicode.

``document_text`` reads like ``storage.events.document_field`` but survives documents
holding ``\\u0000`` on PostgreSQL and gives booleans as ``true``/``false`` on SQLite too
(see ``_DocumentValue``); ``document_number`` reads only JSON numbers.

Free-text search runs LIKE over the stored JSON, so the searched text is first written
the way orjson writes it there (``"`` as ``\\"``, control characters as ``\\u001b``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Float, String, and_, bindparam, func, not_, or_, true
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

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
from storage.events import Event

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
    return document_text(tuple(field.split(".")))


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


class _DocumentValue(FunctionElement[Any]):
    """A value inside the stored document, as text or as a number; compiled per dialect."""

    name = "document_value"
    inherit_cache = True

    def __init__(self, path: tuple[str, ...], *, number: bool) -> None:
        if not path or not all(path):
            raise ValueError("a document path needs one or more non-empty names")
        sqlite_path = "$" + "".join('."' + part.replace('"', '""') + '"' for part in path)
        self.type = Float() if number else String()
        self.number = number
        super().__init__(
            Event.document,
            bindparam(None, sqlite_path, type_=String()),
            bindparam(None, list(path), type_=postgresql.ARRAY(String())),
        )


def document_text(path: tuple[str, ...]) -> ColumnElement[str]:
    """The value at ``path`` as text (``true``/``false`` for booleans on both databases)."""
    return _DocumentValue(path, number=False)


def document_number(path: tuple[str, ...]) -> ColumnElement[float]:
    """The number at ``path``; NULL when it is anything but a JSON number (even "22").

    Only JSON numbers count, the same on both databases, and no cast can fail.
    """
    return _DocumentValue(path, number=True)


@compiles(_DocumentValue, "sqlite")
def _document_value_sqlite(element: _DocumentValue, compiler: Any, **kw: Any) -> str:
    document, path, _ = (compiler.process(clause, **kw) for clause in element.clauses)
    kind, value = f"json_type({document}, {path})", f"json_extract({document}, {path})"
    if element.number:
        return f"(CASE WHEN {kind} IN ('integer', 'real') THEN {value} END)"
    # json_extract gives booleans as 1 and 0; PostgreSQL and Elasticsearch say true/false.
    return f"(CASE {kind} WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE {value} END)"


@compiles(_DocumentValue, "postgresql")
def _document_value_postgresql(element: _DocumentValue, compiler: Any, **kw: Any) -> str:
    document, _, path = (compiler.process(clause, **kw) for clause in element.clauses)
    # PostgreSQL's json type cannot turn the escape \u0000 into text, and one such escape
    # anywhere in a document fails #> and #>> on it, which would make one hostile event
    # break every search; as U+FFFD (also 6 characters of JSON) it reads like the others.
    # (``json``, not ``jsonb``: jsonb refuses \u0000 already on the cast.)
    as_json = f"CAST(replace({document}, E'\\\\u0000', E'\\\\ufffd') AS json)"
    if element.number:
        return (
            f"(CASE WHEN json_typeof({as_json} #> {path}) = 'number' "
            f"THEN CAST({as_json} #>> {path} AS double precision) END)"
        )
    return f"({as_json} #>> {path})"
