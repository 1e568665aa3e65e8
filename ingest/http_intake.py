"""The body of ``POST /api/v1/events`` → a batch of events and per-item rejections.

The body is NDJSON (one JSON object per line) or one JSON array of objects; HTTP itself
(authentication, gzip, size limits, rate limits) is the web layer's. Each item is parsed
on its own, so one bad item is rejected with its index and the rest of the batch goes
on (SECURITY_CASES.md §5.8 #58). orjson refuses nesting deeper than 1,024, numbers it
cannot represent (``1e400``) and invalid UTF-8 or lone surrogates (#60); duplicate keys
keep the last value, as most JSON parsers do.

An item's event id is the sender's ``event.id`` when it gives one, otherwise a hash of
the item's bytes; with the token's id as the namespace (``Batch.source``), a re-sent
batch stores nothing twice (#61), and one token cannot squat another's ids.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from ingest.batches import Batch
from ingest.normalise import content_key, quarantine_reserved
from ingest.parsers import DocumentParser, LineParser, ParseError, detect_document_parser
from ingest.parsers.json_lines import as_document

MAX_ITEM_BYTES = 256 * 1024
MAX_ITEMS = 100_000
# Fields a line parser reads when ``format`` names a line format (Fluent Bit: ``log``).
_LINE_FIELDS = ("message", "log")


class BodyError(ValueError):
    """The body as a whole cannot be read (not a batch at all); nothing is stored."""


def split_items(body: bytes, *, ndjson: bool | None = None) -> Iterator[tuple[bytes, Any]]:
    """(raw bytes, decoded value or the decode error) per item of the body.

    ``ndjson`` True (the sender said ``application/x-ndjson``): one item per line, even a
    line that is an array. False or None (``application/json`` or nothing said): a body
    starting with ``[`` is one array of items; with ``application/json`` a body that is
    one object (perhaps pretty-printed) is one item; otherwise one item per line.
    """
    stripped = body.lstrip()
    if not ndjson and stripped.startswith(b"["):
        yield from _array_items(stripped)
        return
    if ndjson is False and stripped.startswith(b"{"):
        try:  # application/json with one (perhaps pretty-printed) object
            single = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            pass  # several objects, one per line
        else:
            yield stripped, single
            return
    count = 0
    for line in stripped.split(b"\n"):
        if not line.strip():
            continue
        count += 1
        if count > MAX_ITEMS:
            raise BodyError(f"more than {MAX_ITEMS} events in one request")
        if len(line) > MAX_ITEM_BYTES:
            yield line, ParseError(f"event larger than {MAX_ITEM_BYTES // 1024} KiB")
            continue
        try:
            yield line, orjson.loads(line)
        except orjson.JSONDecodeError as error:
            yield line, ParseError(f"not valid JSON: {error}")


def _array_items(body: bytes) -> Iterator[tuple[bytes, Any]]:
    try:
        values = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise BodyError(f"the body starts like a JSON array but is not one: {error}") from None
    if not isinstance(values, list):
        raise BodyError("expected a JSON array or NDJSON")
    if len(values) > MAX_ITEMS:
        raise BodyError(f"more than {MAX_ITEMS} events in one request")
    for value in values:
        yield orjson.dumps(value), value


def receive_body(
    body: bytes,
    *,
    batch: Batch,
    parser: DocumentParser | LineParser | None = None,
    ndjson: bool | None = None,
) -> None:
    """Parse every item of ``body`` into ``batch``; ``parser`` None detects per item."""
    # Decided once per body: isinstance on a runtime-checkable Protocol is slow per item.
    line_parser = parser if isinstance(parser, LineParser) else None
    document_parser = parser if isinstance(parser, DocumentParser) else None
    for index, (raw, value) in enumerate(split_items(body, ndjson=ndjson)):
        try:
            if isinstance(value, ParseError):
                raise value
            item = quarantine_reserved(as_document(value))
            if line_parser is not None:
                document = _parse_message(item, line_parser, batch)
            else:
                chosen = document_parser or detect_document_parser(item)
                document = chosen.parse_document(item, received=batch.ingested)
        except ParseError as error:
            batch.reject(error.reason, raw, index=index)
            continue
        key, by_time = _event_key(item, raw)
        batch.add(document, event_key=key, raw=raw, index=index, key_by_time=by_time)


def _parse_message(value: dict[str, Any], parser: LineParser, batch: Batch) -> dict[str, Any]:
    """A shipper's record whose ``message``/``log`` is a line of ``parser``'s format."""
    line = next((value[f] for f in _LINE_FIELDS if isinstance(value.get(f), str)), None)
    if line is None:
        raise ParseError(f"format {parser.name} needs the line in a 'message' or 'log' field")
    document = parser.parse_line(line, received=batch.ingested)
    for name, field in value.items():
        if name not in _LINE_FIELDS:
            document.setdefault(name, field)
    return document


def _event_key(value: dict[str, Any], raw: bytes) -> tuple[str, bool]:
    """The sender's ``event.id`` (kept as given when short and printable, so sequential ids
    stay neighbours in the index), else a hash of the item ordered by its time."""
    event = value.get("event")
    given = event.get("id") if isinstance(event, dict) else None
    if isinstance(given, str | int) and not isinstance(given, bool) and str(given):
        text = str(given)
        if len(text) <= 62 and text.isprintable():
            return f"i:{text}", False
        return f"h:{content_key('id', text)}", False
    return content_key("content", raw), True
