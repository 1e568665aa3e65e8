"""Lucene query text → ``conditions``: the search language of the console and the API.

The syntax is Lucene's query-string syntax as Elasticsearch reads it, parsed by
``luqum`` (a maintained Lucene grammar; writing our own parser would only invent a
dialect). Supported: ``field:value``, ``field:"a phrase"``, wildcards ``*`` and ``?``,
``AND``/``OR``/``NOT``/``-term``/``+term``, parentheses, ``field:(a OR b)``, terms side
by side (meaning AND), bare words and phrases (anywhere in the event), ``field:*``
(the field exists) and ranges ``field:[a TO b]``, ``{a TO b}``, ``field:>=a``. Fuzzy
(``~``), proximity, boosts (``^``) and regular expressions are refused with a message
saying where they are; so is anything too long, too big or too deeply nested.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from luqum import tree
from luqum.exceptions import IllegalCharacterError, ParseError
from luqum.thread import parse as luqum_parse  # PLY's own parser is not thread safe

from core.i18n import N_
from ingest.errors import InvalidQuery
from ingest.search import values
from ingest.search.conditions import (
    INDEXED_FIELDS,
    TEXT_FIELDS,
    TIMESTAMP_FIELD,
    AllOf,
    AnyOf,
    Between,
    Bound,
    Condition,
    Contains,
    Equals,
    Exists,
    Like,
    Not,
    Piece,
)

MAX_QUERY_LENGTH = 2000
MAX_TERMS = 50
MAX_NESTING = 20  # parentheses, NOT/-/+ and field:(…) inside one another
MAX_FIELD_LENGTH = 100
_FIELD_NAME = re.compile(r"[A-Za-z0-9@_.\-]{1,100}", re.ASCII)
_LUQUM_POSITION = re.compile(r"at position (\d+)")
_NESTING = (tree.Group, tree.FieldGroup, tree.Not, tree.Prohibit, tree.Plus)
_COUNTED = (tree.Term, tree.Range, tree.From, tree.To)
_REFUSED = {
    tree.Fuzzy: N_(
        "Fuzzy search (~) is not supported (character %(character)d); use a wildcard such as fail*."
    ),
    tree.Proximity: N_('Proximity search ("…"~N) is not supported (character %(character)d).'),
    tree.Boost: N_(
        "Boosting (^) is not supported (character %(character)d): "
        "results are ordered by time, not by score."
    ),
    tree.Regex: N_(
        "Regular expressions (/…/) are not supported (character %(character)d); "
        "use the wildcards * and ?."
    ),
}


def parse_query(text: str, *, now: datetime) -> Condition | None:
    """The conditions ``text`` asks for; None for an empty query (everything matches).

    ``now`` is the time ``now-24h`` inside ``@timestamp`` ranges counts from.
    """
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidQuery(
            N_("The query is longer than %(limit)d characters."), limit=MAX_QUERY_LENGTH
        )
    if not text.strip():
        return None
    if "\x00" in text:  # PostgreSQL text cannot hold it, and no one means to search for it
        position = text.index("\x00")
        raise InvalidQuery(
            N_("The query contains a NUL character (character %(character)d)."),
            position=position,
            character=position + 1,
        )
    syntax = _parse(text)
    _check_size(syntax)
    return _Translator(now).condition(syntax, None)


def _parse(text: str) -> Any:
    try:
        return luqum_parse(text)
    except IllegalCharacterError as error:
        position = _position(error, text)
        raise InvalidQuery(
            N_(
                "The query cannot be read from character %(character)d: a quote is not "
                "closed or a backslash escapes nothing."
            ),
            position=position,
            character=position + 1,
        ) from None
    except ParseError as error:
        position = _position(error, text)
        if position >= len(text):
            raise InvalidQuery(
                N_(
                    "The query ends too early: something is missing after the last word "
                    "(a value after “:”, a term after AND/OR/NOT, or a closing parenthesis)."
                ),
                position=len(text),
            ) from None
        raise InvalidQuery(
            N_("The query cannot be read at character %(character)d, near “%(near)s”."),
            position=position,
            character=position + 1,
            near=text[position : position + 20],
        ) from None


def _position(error: Exception, text: str) -> int:
    # The last match: luqum's message quotes the offending text, which may say it too.
    found = _LUQUM_POSITION.findall(str(error))
    return int(found[-1]) if found else len(text)


def _check_size(syntax: Any) -> None:
    """Count terms and nesting without recursion: a deep tree must not crash us first."""
    terms = 0
    stack: list[tuple[Any, int]] = [(syntax, 0)]
    while stack:
        node, depth = stack.pop()
        depth += isinstance(node, _NESTING)
        if depth > MAX_NESTING:
            raise InvalidQuery(
                N_(
                    "The query is nested more than %(limit)d levels deep (character %(character)d)."
                ),
                position=node.pos,
                limit=MAX_NESTING,
                character=(node.pos or 0) + 1,
            )
        if isinstance(node, _COUNTED):
            terms += 1
            if terms > MAX_TERMS:
                raise InvalidQuery(N_("The query has more than %(limit)d terms."), limit=MAX_TERMS)
            continue
        stack.extend((child, depth) for child in node.children)


class _Translator:
    """Walks luqum's tree (already checked for size, so recursion is bounded)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def condition(self, node: Any, field: str | None) -> Condition:
        if isinstance(node, tree.SearchField):
            if field is not None:
                raise _refusal(
                    node,
                    N_(
                        "A field cannot hold another field (character %(character)d); "
                        "write a:x AND b:y."
                    ),
                )
            return self.condition(node.expr, _field_name(node))
        if isinstance(node, tree.AndOperation | tree.UnknownOperation | tree.OrOperation):
            parts = tuple(self.condition(child, field) for child in node.children)
            return AnyOf(parts) if isinstance(node, tree.OrOperation) else AllOf(parts)
        if isinstance(node, tree.Not | tree.Prohibit):
            return Not(self.condition(node.a, field))
        if isinstance(node, tree.Plus | tree.BaseGroup):
            return self.condition(node.children[0], field)
        if isinstance(node, tree.Word | tree.Phrase):
            return self.term(node, field)
        if isinstance(node, tree.Range | tree.From | tree.To):
            return self.range(node, field)
        for kind, message in _REFUSED.items():
            if isinstance(node, kind):
                raise _refusal(node, message)
        raise _refusal(
            node, N_("This part of the query is not supported (character %(character)d).")
        )

    def term(self, node: Any, field: str | None) -> Condition:
        if isinstance(node, tree.Phrase):
            pieces: tuple[Piece, ...] = (values.phrase_text(node.value),)
        else:
            pieces = values.word_pieces(node.value)
        if field is None or field in TEXT_FIELDS:
            return Contains(field, pieces)
        if node.value == "*":
            return Exists(field)
        if field == TIMESTAMP_FIELD:
            return self.timestamp_term(node, pieces)
        if values.is_literal(pieces):
            return Equals(field, values.joined(pieces))
        return Like(field, pieces)

    def timestamp_term(self, node: Any, pieces: tuple[Piece, ...]) -> Condition:
        if not values.is_literal(pieces):
            raise _refusal(
                node,
                N_("@timestamp takes a time or a range, not a wildcard (character %(character)d)."),
            )
        moment, whole_day = self.time(node, values.joined(pieces))
        if whole_day:
            return Between(TIMESTAMP_FIELD, moment, values.end_of_day(moment), True, False)
        return Between(TIMESTAMP_FIELD, moment, moment)

    def range(self, node: Any, field: str | None) -> Condition:
        if field is None:
            raise _refusal(
                node,
                N_(
                    "A range needs a field (character %(character)d), "
                    "such as source.port:[1 TO 1024]."
                ),
            )
        if isinstance(node, tree.Range):
            low, high = _bound_text(node.low), _bound_text(node.high)
            include_low, include_high = node.include_low, node.include_high
        elif isinstance(node, tree.From):  # field:>x, field:>=x
            low, high, include_low, include_high = _bound_text(node.a), None, node.include, True
        else:  # field:<x, field:<=x
            low, high, include_low, include_high = None, _bound_text(node.a), True, node.include
        if low is None and high is None:
            return Exists(field)
        if field == TIMESTAMP_FIELD:
            return self.time_range(node, low, high, include_low, include_high)
        numbers = None if field in INDEXED_FIELDS else _numbers(low, high)
        bounds: tuple[Bound, Bound] = numbers or (low, high)
        return Between(field, bounds[0], bounds[1], include_low, include_high)

    def time_range(
        self, node: Any, low: str | None, high: str | None, include_low: bool, include_high: bool
    ) -> Condition:
        # A bare date bound means its whole day, as in Elasticsearch: [2026-01-01 TO
        # 2026-01-31] is all of January, {2026-01-01 TO …] starts on the 2nd.
        start = end = None
        if low is not None:
            start, whole_day = self.time(node, low)
            if whole_day and not include_low:
                start, include_low = values.end_of_day(start), True
        if high is not None:
            end, whole_day = self.time(node, high)
            if whole_day and include_high:
                end, include_high = values.end_of_day(end), False
        return Between(TIMESTAMP_FIELD, start, end, include_low, include_high)

    def time(self, node: Any, text: str) -> tuple[datetime, bool]:
        parsed = values.parse_time(text, now=self.now)
        if parsed is None:
            raise _refusal(
                node,
                N_(
                    "“%(value)s” is not a time (character %(character)d): use ISO 8601 such "
                    "as 2026-01-31 or 2026-01-31T14:00:00Z, or now-24h."
                ),
                value=text[:40],
            )
        return parsed


def _numbers(low: str | None, high: str | None) -> tuple[float | None, float | None] | None:
    """Both given bounds as numbers, or None when either is not a number (compare text)."""
    low_number = values.parse_number(low) if low is not None else None
    high_number = values.parse_number(high) if high is not None else None
    if (low is not None and low_number is None) or (high is not None and high_number is None):
        return None
    return low_number, high_number


def _field_name(node: Any) -> str:
    name: str = node.name
    parts = name.split(".")
    if not _FIELD_NAME.fullmatch(name) or not all(parts):
        raise _refusal(
            node,
            N_(
                "“%(name)s” is not a field name (character %(character)d): use letters, "
                "digits and . _ - @, at most 100 characters."
            ),
            name=name[:MAX_FIELD_LENGTH],
        )
    return name


def _bound_text(node: Any) -> str | None:
    """A range bound as text; ``*`` (open) as None. ``-5`` arrives as Prohibit(Word(5))."""
    if isinstance(node, tree.Prohibit):
        inner = _bound_text(node.a)
        return None if inner is None else "-" + inner
    if isinstance(node, tree.Phrase):
        return values.phrase_text(node.value)
    if node.value == "*":
        return None
    pieces = values.word_pieces(node.value)
    if not values.is_literal(pieces):
        raise _refusal(node, N_("A range bound cannot hold a wildcard (character %(character)d)."))
    return values.joined(pieces)


def _refusal(node: Any, message: str, **params: object) -> InvalidQuery:
    position = node.pos if isinstance(node.pos, int) else None
    return InvalidQuery(message, position=position, character=(position or 0) + 1, **params)
