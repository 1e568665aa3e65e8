"""The console's query language as query DSL: a condition per field *type*.

``cluster.py`` asks the cluster's ``_field_caps`` for the types of the fields a condition
names (``named_fields``) and sends the search; this module turns the condition into the
query (``to_query``), given those types. A ``term`` with ``case_insensitive`` fits a keyword
but is refused on a number, an IP or a date, and a field may have one type in one daily
index and another in the next (dynamic mapping follows the first value of the day): each
type's query is limited to its own indices. What cannot mean the same as on SQL
(docs/scale-out.md, "Searching events"):

- keyword values longer than 1024 characters (``message``: 8191) are not searchable;
- numbers compare as numbers (``22`` finds ``22.0`` and the text ``"22"`` in a number
  field); IP fields take addresses, CIDR (``source.ip:"10.0.0.0/8"``, which SQL reads as
  text) and ``10.0.*``-style prefixes; wildcards on number, date and boolean fields are
  refused with a message; a date field's value the cluster cannot read is its 400;
- keyword terms and wildcards ignore case (``case_insensitive``); ranges on keywords do so
  only in indices with the lowercase normalizer (template 3 on), earlier ones keep case;
- times are kept to the millisecond: bounds are rounded to it the way stored times are;
- free text (no field) looks for the text inside every keyword field, words in text
  fields without a keyword copy, and whole numbers and IP addresses; it does not find
  field names or parts of numbers, which SQL's search through the stored JSON does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from core.i18n import N_
from ingest.errors import InvalidQuery
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
from ingest.search.values import parse_number

KEYWORDS = frozenset({"keyword", "constant_keyword", "wildcard"})
TEXTS = frozenset({"text", "match_only_text"})
INTEGERS = frozenset({"long", "integer", "short", "byte", "unsigned_long"})
NUMBERS = INTEGERS | {"double", "float", "half_float", "scaled_float"}
DATES = frozenset({"date", "date_nanos"})
# Free text asks every keyword field, so a few words can make thousands of clauses: above
# 1024 OpenSearch refuses the query with a 500 (too_many_nested_clauses), which would read
# as an outage. Wachter refuses it first and asks for field names.
MAX_CLAUSES = 1000
MATCH_ALL: dict[str, Any] = {"match_all": {}}
MATCH_NONE: dict[str, Any] = {"match_none": {}}

Query = dict[str, Any]
Types = dict[str, dict[str, list[str] | None]]  # field → its type → its indices (None: all)


def cluster_time(moment: datetime, *, up: bool) -> str:
    """``moment`` to the millisecond, the precision of a ``date`` field: rounded up for
    ``gte``/``lt`` and down for ``gt``/``lte`` (``x >= 10:00:00.0005`` is ``x >= …001``)."""
    moment = moment.astimezone(UTC)
    extra = moment.microsecond % 1000
    moment -= timedelta(microseconds=extra)
    if extra and up and moment < datetime.max.replace(tzinfo=UTC) - timedelta(milliseconds=1):
        moment += timedelta(milliseconds=1)
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def named_fields(condition: Condition) -> tuple[set[str], bool]:
    """The fields ``condition`` names (with ``.keyword`` copies of text) and if it has free text."""
    names: set[str] = set()
    free_text = False
    stack = [condition]
    while stack:
        match stack.pop():
            case AllOf(parts) | AnyOf(parts):
                stack.extend(parts)
            case Not(part):
                stack.append(part)
            case Contains(None, _):
                free_text = True
            case Contains(str(field), _):
                names.update((field, f"{field}.keyword"))
            case Equals(field) | Like(field) | Between(field) | Exists(field):
                names.add(field)
    return names, free_text


def _per_type(
    field: str, types: Types, make: Callable[[str], Query | None], refusal: InvalidQuery | None
) -> Query:
    """The query for ``field``: ``make(type)`` for each of its types, each on its indices.

    ``make`` returns None for a type that cannot hold a match; ``refusal`` is raised when no
    type of the field can take the condition at all.
    """
    parts: list[Query] = []
    for kind, indices in types.get(field, {}).items():
        clause = make(kind)
        if clause is None:
            continue
        if indices is not None:  # the field has other types in other indices
            clause = {"bool": {"filter": [{"terms": {"_index": indices}}, clause]}}
        parts.append(clause)
    if not parts:
        if refusal is not None and types.get(field):
            raise refusal
        return MATCH_NONE
    return parts[0] if len(parts) == 1 else _any(parts)


def _any(parts: list[Query]) -> Query:
    return {"bool": {"should": parts, "minimum_should_match": 1}}


# Conditions → query DSL ------------------------------------------------------------


def to_query(condition: Condition, types: Types) -> Query:  # noqa: PLR0911 - a case per kind
    """The query DSL for ``condition``, given the types of the fields it names."""
    match condition:
        case AllOf(parts):
            return {"bool": {"filter": [to_query(part, types) for part in parts]}}
        case AnyOf(parts):
            return _any([to_query(part, types) for part in parts])
        case Not(part):
            return {"bool": {"must_not": [to_query(part, types)]}}
        case Exists(field):
            return MATCH_ALL if field == TIMESTAMP_FIELD else {"exists": {"field": field}}
        case Equals(field, value):
            return _per_type(field, types, lambda kind: _equals(field, kind, value), None)
        case Like(field, pieces):
            refusal = InvalidQuery(
                N_(
                    "%(name)s holds numbers, times, true/false or IP addresses on the search "
                    "cluster: wildcards work only on text; use a range or a network (CIDR)."
                ),
                name=field,
            )
            return _per_type(field, types, lambda kind: _like(field, kind, pieces), refusal)
        case Contains(None, pieces):
            return _free_text(pieces, types)
        case Contains(str(field), pieces):
            return _per_type(field, types, lambda kind: _contains(field, kind, pieces, types), None)
        case Between():
            return _between(condition, types)
    raise TypeError(f"not a search condition: {condition!r}")


def _equals(field: str, kind: str, value: str) -> Query | None:  # noqa: PLR0911
    if kind in KEYWORDS:
        return {"term": {field: {"value": value, "case_insensitive": True}}}
    if kind in TEXTS:
        return {"match_phrase": {field: value}}
    if kind in NUMBERS:
        number = _number(kind, value)
        return None if number is None else {"term": {field: number}}
    if kind == "boolean":
        lowered = value.lower()
        return {"term": {field: lowered}} if lowered in ("true", "false") else None
    if kind == "ip":
        return {"term": {field: value}} if _is_address_or_network(value) else None
    if kind in DATES:  # the cluster reads the time; one it cannot read is its 400
        return {"term": {field: value}}
    return None  # objects and the like hold no value of their own


def _number(kind: str, text: str) -> int | float | None:
    number = parse_number(text)
    if number is None:
        return None
    if kind in INTEGERS:
        if not number.is_integer() or abs(number) >= 2**63:
            return None  # no whole number of the field can equal it
        return int(number)
    return number


def _is_address_or_network(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def _like(field: str, kind: str, pieces: tuple[Piece, ...]) -> Query | None:
    if kind in KEYWORDS | TEXTS:
        return {"wildcard": {field: {"value": wildcard_pattern(pieces), "case_insensitive": True}}}
    if kind == "ip":
        network = _ip_prefix(pieces)
        return None if network is None else {"term": {field: network}}
    return None


def _ip_prefix(pieces: tuple[Piece, ...]) -> str | None:
    """``10.0.*`` as ``10.0.0.0/16``: the one IPv4 wildcard that is a network."""
    if len(pieces) != 2 or pieces[1] is not Wildcard.ANY or not isinstance(pieces[0], str):
        return None
    octets = pieces[0].removesuffix(".").split(".")
    if not pieces[0].endswith(".") or not 1 <= len(octets) <= 3:
        return None
    if not all(octet.isdigit() and int(octet) <= 255 for octet in octets):
        return None
    address = ".".join(octets + ["0"] * (4 - len(octets)))
    return f"{address}/{8 * len(octets)}"


def _contains(field: str, kind: str, pieces: tuple[Piece, ...], types: Types) -> Query | None:
    pattern = wildcard_pattern((Wildcard.ANY, *pieces, Wildcard.ANY))
    if kind in KEYWORDS:
        return {"wildcard": {field: {"value": pattern, "case_insensitive": True}}}
    if kind not in TEXTS:
        return None
    if any(sub in KEYWORDS for sub in types.get(f"{field}.keyword", {})):
        # The whole text as a keyword: a substring, as on SQL (message.keyword).
        return {"wildcard": {f"{field}.keyword": {"value": pattern, "case_insensitive": True}}}
    if all(isinstance(piece, str) for piece in pieces):  # words only (event.original)
        return {"match_phrase": {field: "".join(str(piece) for piece in pieces)}}
    return {"wildcard": {field: {"value": wildcard_pattern(pieces), "case_insensitive": True}}}


def _free_text(pieces: tuple[Piece, ...], types: Types) -> Query:
    if all(isinstance(piece, Wildcard) for piece in pieces):
        return MATCH_ALL  # every stored event has some text
    literal = "".join(piece for piece in pieces if isinstance(piece, str))
    exact = all(isinstance(piece, str) for piece in pieces)
    parts: list[Query] = []
    for field, by_type in sorted(types.items()):
        if field.endswith(".keyword") and field.removesuffix(".keyword") in types:
            continue  # searched through the text field it copies

        def make(kind: str, field: str = field) -> Query | None:
            if kind in KEYWORDS | TEXTS:
                return _contains(field, kind, pieces, types)
            if exact and (kind in NUMBERS or kind == "ip"):
                return _equals(field, kind, literal)
            return None

        if any(make(kind) is not None for kind in by_type):
            parts.append(_per_type(field, types, make, None))
    return _any(parts) if parts else MATCH_NONE


def bounded(query: Query) -> Query:
    """``query`` unless it has more than ``MAX_CLAUSES`` clauses (counted as Lucene does)."""
    count, stack = 0, [query]
    while stack:
        node = stack.pop()
        inner = node.get("bool")
        if inner is None:
            count += 1
            continue
        for key in ("filter", "should", "must_not"):
            stack.extend(inner.get(key, ()))
            count += len(inner.get(key, ()))
    if count > MAX_CLAUSES:
        raise InvalidQuery(
            N_(
                "The query asks the search cluster for %(count)d comparisons, more than the "
                "%(limit)d it takes: text without a field is looked for in every field, so "
                "name fields (such as message:word) or use fewer words."
            ),
            count=count,
            limit=MAX_CLAUSES,
        )
    return query


def _between(condition: Between, types: Types) -> Query:
    field, low, high = condition.field, condition.low, condition.high
    if field == TIMESTAMP_FIELD:
        return _range(
            field,
            _moment(low, condition.include_low),
            _moment(high, not condition.include_high),
            condition,
        )

    def make(kind: str) -> Query | None:
        numeric = isinstance(low, float) or isinstance(high, float)
        if kind in NUMBERS and numeric:
            return _range(field, low, high, condition)
        if kind in KEYWORDS:  # text order; without case where the normalizer lowercases
            return _range(field, _bound(low), _bound(high), condition)
        if kind == "ip" and all(_is_address_or_network(str(b)) for b in (low, high) if b):
            return _range(field, low, high, condition)
        if kind in DATES and not numeric:
            return _range(field, low, high, condition)
        return None

    return _per_type(field, types, make, None)


def _moment(value: object, up: bool) -> str | None:
    return cluster_time(value, up=up) if isinstance(value, datetime) else None


def _bound(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # event.code:[4600 TO 4700] reads "4600", not "4600.0"
    return str(value)


def _range(field: str, low: object, high: object, condition: Between) -> Query:
    bounds = {}
    if low is not None:
        bounds["gte" if condition.include_low else "gt"] = low
    if high is not None:
        bounds["lte" if condition.include_high else "lt"] = high
    return {"range": {field: bounds}}


def wildcard_pattern(pieces: tuple[Piece, ...]) -> str:
    """A ``wildcard`` query value: ``*``/``?`` for wildcards, literal ``*?\\`` escaped."""
    parts = []
    for piece in pieces:
        if isinstance(piece, Wildcard):
            parts.append(piece.value)
        else:
            parts.append(piece.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?"))
    return "".join(parts)
