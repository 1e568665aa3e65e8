"""Generic JSON lines: the fallback for any JSON object no specific parser claims.

Every field is kept as the sender wrote it; the parser only adds what the pipeline needs:
``@timestamp`` from the first time-like field present, ``event.dataset`` (``generic.json``
unless the sender named one) and ``message`` from Fluent Bit's ``log`` field.

The helpers here are the basics of every JSON document parser (``windows``,
``wachter-audit``): a sender's ``wachter`` object is set aside, because that namespace is
Wachter's own (``wachter.flags`` records data quality; a sender must not forge or clear
it), and a source field whose name is an ECS object but whose value is not an object moves
to ``labels`` before the parser adds ECS fields there (as ``ingest.normalise.finish`` would).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ingest.parsers.base import MAX_KEYWORD, Document, ParseError

DATASET = "generic.json"
# Where senders put an event's time, most specific first.
TIME_FIELDS = ("@timestamp", "timestamp", "time", "ts", "date")
# Beyond 64 bits a number cannot be a time (nor be stored: orjson refuses it).
_LARGEST_TIME_NUMBER = 2**63
_JSON_TYPES = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}


def as_document(value: Any) -> Document:
    """``value`` (decoded JSON) as a document; anything but an object is refused."""
    if isinstance(value, dict):
        return value
    raise ParseError(f"expected a JSON object, got {_JSON_TYPES.get(type(value), 'a number')}")


def prepare(document: Document, ecs_objects: Iterable[str]) -> Document:
    """A copy of ``document`` ready for ECS fields under ``ecs_objects``.

    The caller's document is left alone: the objects named are copied, not shared.
    """
    prepared = dict(document)
    set_aside: dict[str, Any] = {}
    if "wachter" in prepared:
        set_aside["wachter"] = prepared.pop("wachter")
    for name in _object_names(tuple(ecs_objects)):
        value = prepared.get(name)
        if isinstance(value, dict):
            prepared[name] = dict(value)
        elif name in prepared:
            set_aside[name] = prepared.pop(name)
    if set_aside:
        prepared.setdefault("labels", {}).update(set_aside)
    return prepared


@functools.cache
def _object_names(ecs_objects: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({*ecs_objects, "labels"}))


def branch(document: Document, *path: str) -> dict[str, Any] | None:
    """The object at ``path``, created where missing; None where a non-object is in the way.

    Objects below the top level are copied on the way down (``prepare`` copied the top
    level), so a parser never changes the sender's nested objects.
    """
    current = document
    for depth, name in enumerate(path):
        value = current.get(name)
        if value is None:
            value = current[name] = {}
        elif not isinstance(value, dict):
            return None
        elif depth > 0:
            value = current[name] = dict(value)
        current = value
    return current


def fill(document: Document, path: str, value: Any) -> None:
    """Set the dotted ``path`` to ``value`` unless the sender already gave it (or None)."""
    if value is None:
        return
    parents, leaf = _split_path(path)
    if len(parents) == 1:  # most ECS fields (event.code, host.name): no descent to copy
        target = document.get(parents[0])
        if target is None:
            target = document[parents[0]] = {}
        elif not isinstance(target, dict):
            return
    else:
        found = branch(document, *parents)
        if found is None:
            return
        target = found
    if target.get(leaf) is None:
        target[leaf] = value


@functools.cache
def _split_path(path: str) -> tuple[tuple[str, ...], str]:
    *parents, leaf = path.split(".")
    return tuple(parents), leaf


def keyword(value: Any) -> str | None:
    """``value`` if it is text short enough for an ECS keyword field, else None."""
    return value if isinstance(value, str) and len(value) <= MAX_KEYWORD else None


def claimed_time(value: Any) -> Any:
    """``value`` as a time candidate for ``@timestamp``; a number too large to be one is refused."""
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and abs(value) >= _LARGEST_TIME_NUMBER
    ):
        raise ParseError("the time is a number too large to be a time")
    return value


class GenericJsonParser:
    name = "json"
    description = "JSON lines: any JSON object, fields kept as sent"

    def detect_document(self, document: Document) -> bool:
        return True

    def parse_document(self, document: Document, *, received: datetime) -> Document:
        output = prepare(document, ("event",))
        time_field = next((name for name in TIME_FIELDS if output.get(name) is not None), None)
        if time_field is not None:
            output["@timestamp"] = claimed_time(output[time_field])
        fill(output, "event.dataset", DATASET)
        log = output.get("log")
        if output.get("message") is None and isinstance(log, str):
            output["message"] = log
        return output


GENERIC = GenericJsonParser()
PARSERS: tuple[GenericJsonParser, ...] = (GENERIC,)
