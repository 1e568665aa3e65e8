"""The last step before the store: a parser's document becomes a checked ECS event.

Every receiver ends here, so every event gets the same treatment: its own time made UTC
and checked (``ingest.timestamps``), ``event.ingested`` set to the server's time,
``event.kind`` defaulted, quality flags recorded, the indexed columns filled, and the
whole serialised once, with a size limit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

from ingest.parsers.base import MAX_KEYWORD, Document, ParseError, valid_ip
from ingest.timestamps import Flag, check_time, format_time, parse_time
from storage.events import EventRecord

# Largest stored event (serialised). Windows script-block events run to tens of KiB.
MAX_EVENT_BYTES = 256 * 1024
# ECS field sets that are objects. A source field of the same name with another type
# (structlog's ``"event": "user logged in"``) moves to ``labels`` instead of breaking ECS.
ECS_OBJECTS = frozenset(
    {
        "agent", "client", "destination", "ecs", "error", "event", "file", "host", "http",
        "log", "network", "observer", "process", "related", "server", "service", "source",
        "url", "user", "user_agent", "wachter", "winlog", "labels",
    }
)  # fmt: skip


# ECS objects whose ``ip`` field must hold addresses (refused otherwise, not stored as text).
_IP_GROUPS = ("source", "destination", "client", "server", "host")
_OUTCOMES = frozenset({"success", "failure", "unknown"})
# Keyword fields people filter on; longer values are refused (parsers.base.MAX_KEYWORD).
_KEYWORDS = (
    ("host", "name"), ("user", "name"), ("event", "dataset"), ("event", "action"),
    ("event", "code"), ("source", "domain"),
)  # fmt: skip


def content_key(*parts: str | bytes) -> str:
    """A SHA-256 over ``parts``: the event id of input that carries none of its own."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part)
        digest.update(b"\x00")
    return digest.hexdigest()


def finish(
    document: Document,
    *,
    source: str,
    event_key: str,
    ingested: datetime,
    flags: Iterable[Flag] = (),
    key_by_time: bool = False,
) -> EventRecord:
    """``document`` (a parser's output; changed in place) as a record for the event store.

    ``key_by_time`` puts the time the event claims in front of ``event_key`` (a content
    hash): still the same for the same input, but consecutive events get neighbouring keys,
    so the unique index takes them at its end instead of at random places (bench/ingest:
    random keys made SQLite write twice the pages per batch).

    Raises ``ParseError`` when a field ECS types strictly (IP addresses, ``event.outcome``,
    ``event.severity``, keyword lengths) holds something else (SECURITY_CASES.md #63).
    This runs once per event on every path in, so it reads each object once (bench/ingest).
    """
    _move_clashing_fields(document)
    _check_fields(document)
    raw_time = document.pop("@timestamp", None)
    claimed = parse_time(raw_time)
    timestamp, time_flags = check_time(claimed, ingested=ingested)
    if raw_time is not None and claimed is None:
        document.setdefault("wachter", {})["original_timestamp"] = str(raw_time)[:64]
        time_flags = [Flag.TIMESTAMP_INVALID]
    all_flags = _flags(document, flags, time_flags)
    event = document.setdefault("event", {})
    event.setdefault("kind", "event")
    event["ingested"] = format_time(ingested)
    ordered = {"@timestamp": format_time(timestamp), **document}
    try:
        serialised = orjson.dumps(ordered, default=_fallback).decode()
    except TypeError as error:  # integers beyond 64 bits, mostly
        raise ParseError(f"event cannot be stored as JSON: {error}") from None
    if len(serialised) > MAX_EVENT_BYTES:
        raise ParseError(f"event is larger than {MAX_EVENT_BYTES // 1024} KiB")
    host, user, origin = document.get("host"), document.get("user"), document.get("source")
    if key_by_time:
        event_key = time_ordered_key(claimed, event_key)
    return EventRecord(
        source=source,
        event_key=event_key,
        timestamp=timestamp,
        ingested=ingested,
        document=serialised,
        dataset=_text(event.get("dataset")),
        host_name=_text(host.get("name")) if host else None,
        user_name=_text(user.get("name")) if user else None,
        source_ip=_text(origin.get("ip")) if origin else None,
        outcome=_text(event.get("outcome")),
        flags=",".join(all_flags) or None,
    )


def time_ordered_key(claimed: datetime | None, key: str) -> str:
    """``20261129100000~<key>``: the claimed UTC second first (``-`` when none), 64 at most."""
    second = "-"
    if claimed is not None:
        try:
            second = (
                (claimed if claimed.tzinfo else claimed.replace(tzinfo=UTC))
                .astimezone(UTC)
                .strftime("%Y%m%d%H%M%S")
            )
        except (OverflowError, ValueError):
            second = "-"
    return f"{second}~{key}"[:64]


def _flags(document: Document, given: Iterable[Flag], from_time: list[Flag]) -> list[str]:
    """All quality flags, sorted, written to ``wachter.flags``; an empty ``wachter`` goes."""
    wachter = document.get("wachter")
    own = wachter.get("flags") if wachter else None
    all_flags = sorted({*given, *from_time, *(own if isinstance(own, list) else ())})
    if all_flags:
        document.setdefault("wachter", {})["flags"] = all_flags
    elif wachter is not None and not wachter:
        del document["wachter"]
    return all_flags


def quarantine_reserved(document: Document) -> Document:
    """Input from outside may not write Wachter's own ``wachter.*`` fields (flags, the
    logsource of its own events): they move to ``labels.wachter``, kept but inert."""
    if "wachter" in document:
        labels = document.get("labels")
        if not isinstance(labels, dict):
            labels = document["labels"] = {} if labels is None else {"labels": labels}
        labels["wachter"] = document.pop("wachter")
    return document


def _check_fields(document: Document) -> None:
    # The groups read here are all ECS objects: _move_clashing_fields made them dicts.
    for group in _IP_GROUPS:
        found = document.get(group)
        value = found.get("ip") if found else None
        if value is not None and not all(_is_ip(item) for item in _as_list(value)):
            raise ParseError(f"{group}.ip is not an IP address")
    event = document.get("event")
    if event:
        outcome, severity = event.get("outcome"), event.get("severity")
        if outcome is not None and (not isinstance(outcome, str) or outcome not in _OUTCOMES):
            raise ParseError("event.outcome must be success, failure or unknown")
        if severity is not None and not _is_whole_number(severity):
            raise ParseError("event.severity must be a whole number")
    for group, name in _KEYWORDS:
        found = document.get(group)
        value = found.get(name) if found else None
        if isinstance(value, str) and len(value) > MAX_KEYWORD:
            raise ParseError(f"{group}.{name} is longer than {MAX_KEYWORD} characters")


def _is_ip(value: Any) -> bool:
    return isinstance(value, str) and valid_ip(value) is not None


def _is_whole_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and value.lstrip("-").isdigit() and len(value) < 20


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _move_clashing_fields(document: Document) -> None:
    clashing = {
        name: document.pop(name)
        for name in sorted(ECS_OBJECTS & document.keys())
        if not isinstance(document[name], dict)
    }
    if clashing:  # any non-object "labels" was popped above, so this is a dict
        document.setdefault("labels", {}).update(clashing)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)


def _fallback(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value) if value.tzinfo else value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"unsupported value of type {type(value).__name__}")
