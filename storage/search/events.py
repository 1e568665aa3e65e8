"""Wachter's events in daily indices on Elasticsearch or OpenSearch.

An event goes to ``<prefix>-events-YYYY.MM.DD`` by the UTC day of its ``@timestamp``, with
the document id ``event_document_id(source, event_key)``: a digest of the identity the SQL
event store keeps unique. Every write is a bulk ``create``, so sending an event again is
answered 409 and counted as a duplicate, never stored twice: replaying a batch after an
outage is safe. The document is the stored ECS JSON as it is (``event.ingested`` included),
with the event's SQL id spliced in front as the flat key ``"wachter.event_id"`` (a ``long``
in the template): the console finds an event's row by it and sorts by it. The bytes are not
parsed and written again (the indexer's hot path, bench/elasticsearch); only a document that
holds an ``event_id`` key of its own is parsed, so that the spliced id is the only one.

``index_events`` sends at most ``MAX_BATCH_DOCUMENTS`` documents or about
``MAX_BATCH_BYTES`` per request. Items the cluster could not take now (429, 5xx) are sent
again after an exponential backoff, a few times; if some still fail, or the cluster cannot
be reached, it raises ``SearchUnavailable`` (the caller keeps its cursor and tries later).
Items the cluster refuses (4xx, a mapping conflict) come back as ``RejectedDocument`` with
the cluster's reason: the caller decides what becomes of them (the indexer: dead letters).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import chain
from typing import Any, Protocol

import orjson

from storage.search.client import SearchBackend, backoff_delay, check_exact_index
from storage.search.errors import SearchUnavailable
from storage.search.templates import events_pattern

MAX_BATCH_DOCUMENTS = 1000
MAX_BATCH_BYTES = 5 * 1024 * 1024
ITEM_ATTEMPTS = 4  # the first try and three more for items answered 429/5xx
ITEM_BACKOFF_BASE = 0.5
ITEM_BACKOFF_CAP = 8.0
MAX_PAGE = 1000
IN_FLIGHT = 4  # bulk requests sent at once

log = logging.getLogger("wachter.storage.search")


class StoredEvent(Protocol):
    """What indexing needs of a stored event (``storage.events.Event`` or a row of it).

    An event with an ``id`` attribute (every event read from the SQL store) is indexed with
    it as ``wachter.event_id``; one without (built by hand) is sent as it is.
    """

    @property
    def source(self) -> str: ...
    @property
    def event_key(self) -> str: ...
    @property
    def timestamp(self) -> datetime: ...
    @property
    def document(self) -> str: ...


@dataclass(frozen=True, slots=True)
class RejectedDocument:
    """An event the cluster refused, with its reason (``type: reason``)."""

    source: str
    event_key: str
    reason: str
    document: str


@dataclass(frozen=True)
class IndexResult:
    indexed: int = 0
    duplicates: int = 0
    rejected: tuple[RejectedDocument, ...] = ()


def event_document_id(source: str, event_key: str) -> str:
    """The document id of the event ``(source, event_key)``: stable across runs and hosts."""
    identity = orjson.dumps([source, event_key])  # unambiguous, whatever the strings hold
    return hashlib.sha256(identity).hexdigest()


def events_index(prefix: str, moment: datetime) -> str:
    """The daily index of an event at ``moment`` (its UTC day)."""
    return f"{prefix}-events-{moment.astimezone(UTC):%Y.%m.%d}"


@dataclass
class _Pending:
    event: StoredEvent
    action: bytes
    document: bytes

    @property
    def size(self) -> int:
        return len(self.action) + len(self.document) + 2


EVENT_ID_FIELD = "wachter.event_id"
# Stored documents are written by orjson (``ingest.normalise.finish``), which never escapes
# a letter or ``_`` in a key: a document without these bytes has no event id of its own.
_OWN_EVENT_ID = b'event_id"'


def with_event_id(document: bytes, event_id: int) -> bytes:
    """``document`` (a JSON object) with ``"wachter.event_id": event_id`` as its first key.

    Spliced into the bytes: ``{`` + the key + ``,`` + the rest (no comma for ``{}``). A
    document that holds an ``event_id`` key is parsed instead and loses any ``wachter``
    event id of its own (``"wachter.event_id"`` or ``wachter: {event_id}``): the cluster
    would refuse a repeated key or index both values, and the id must be the SQL one.
    """
    if _OWN_EVENT_ID in document:
        return _replaced_event_id(document, event_id)
    body = document.lstrip()
    if body[:1] != b"{":
        raise ValueError("an event document must be a JSON object")
    rest = body[1:].lstrip()
    head = b'{"wachter.event_id":%d' % event_id
    return head + rest if rest[:1] == b"}" else head + b"," + rest


def _replaced_event_id(document: bytes, event_id: int) -> bytes:
    parsed = orjson.loads(document)
    if not isinstance(parsed, dict):
        raise ValueError("an event document must be a JSON object")
    parsed.pop(EVENT_ID_FIELD, None)
    reserved = parsed.get("wachter")
    if isinstance(reserved, dict):
        reserved.pop("event_id", None)
    return orjson.dumps({EVENT_ID_FIELD: event_id, **parsed})


def _pending(event: StoredEvent, prefix: str) -> _Pending:
    action = {
        "create": {
            "_index": events_index(prefix, event.timestamp),
            "_id": event_document_id(event.source, event.event_key),
        }
    }
    document = event.document.encode("utf-8", "surrogatepass")
    event_id = getattr(event, "id", None)  # None: an event not read from the SQL store
    if isinstance(event_id, int):
        document = with_event_id(document, event_id)
    return _Pending(event, orjson.dumps(action), document)


def _chunks(pending: Iterable[_Pending]) -> Iterator[list[_Pending]]:
    chunk: list[_Pending] = []
    size = 0
    for item in pending:
        if chunk and (len(chunk) >= MAX_BATCH_DOCUMENTS or size + item.size > MAX_BATCH_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += item.size
    if chunk:
        yield chunk


@dataclass
class _Tally:
    indexed: int = 0
    duplicates: int = 0
    rejected: list[RejectedDocument] = field(default_factory=list)


def index_events(
    backend: SearchBackend,
    events: Iterable[StoredEvent],
    *,
    prefix: str,
    sleep: Callable[[float], None] = time.sleep,
    in_flight: int = IN_FLIGHT,
) -> IndexResult:
    """Create ``events`` (oldest first) in their daily indices; see the module docstring.

    Up to ``in_flight`` bulk requests are out at once, and the next request is built (and
    ``events``, which may be a lazy stream from the database, read) while they are: the
    node is never idle waiting for Python, nor Python for the node (bench/elasticsearch).
    Documents carry their own ids, so the order requests land in does not matter.
    """
    chunks = _chunks(_pending(event, prefix) for event in events)
    if in_flight <= 1:
        tallies = [_send_chunk(backend, chunk, sleep) for chunk in chunks]
    else:
        tallies = _send_overlapped(backend, chunks, sleep, in_flight)
    total = _Tally()
    for tally in tallies:  # in chunk order, so rejections keep the events' order
        total.indexed += tally.indexed
        total.duplicates += tally.duplicates
        total.rejected.extend(tally.rejected)
    return IndexResult(total.indexed, total.duplicates, tuple(total.rejected))


def _send_overlapped(
    backend: SearchBackend,
    chunks: Iterator[list[_Pending]],
    sleep: Callable[[float], None],
    in_flight: int,
) -> list[_Tally]:
    first = next(chunks, None)
    if first is None:
        return []
    second = next(chunks, None)
    if second is None:  # one request: no threads needed
        return [_send_chunk(backend, first, sleep)]
    free = threading.BoundedSemaphore(in_flight)
    failed = threading.Event()

    def finished(future: Future[_Tally]) -> None:
        if future.exception() is not None:
            failed.set()
        free.release()

    futures: list[Future[_Tally]] = []
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        for chunk in chain((first, second), chunks):
            free.acquire()  # at most ``in_flight`` out; the next chunk is built meanwhile
            if failed.is_set():
                break  # the cluster is away: read no further, the error is raised below
            future = pool.submit(_send_chunk, backend, chunk, sleep)
            future.add_done_callback(finished)
            futures.append(future)
    return [future.result() for future in futures]


def _send_chunk(
    backend: SearchBackend, chunk: list[_Pending], sleep: Callable[[float], None]
) -> _Tally:
    tally = _Tally()
    _send(backend, chunk, tally, sleep)
    return tally


def _send(
    backend: SearchBackend,
    chunk: list[_Pending],
    tally: _Tally,
    sleep: Callable[[float], None],
) -> None:
    for attempt in range(ITEM_ATTEMPTS):
        if attempt:
            sleep(backoff_delay(attempt - 1, ITEM_BACKOFF_BASE, ITEM_BACKOFF_CAP))
        parts: list[bytes] = []
        for item in chunk:
            parts += (item.action, b"\n", item.document, b"\n")
        body = b"".join(parts)  # one copy of each document, not three
        results = backend.bulk(body)
        again: list[_Pending] = []
        for item, result in zip(chunk, results, strict=True):
            outcome = result.get("create", {})
            status = int(outcome.get("status", 500))
            if status in (200, 201):
                tally.indexed += 1
            elif status == 409:
                tally.duplicates += 1
            elif status == 429 or status >= 500:
                again.append(item)
            else:
                tally.rejected.append(_rejected(item.event, outcome))
        if not again:
            return
        chunk = again
    raise SearchUnavailable(
        f"{len(chunk)} events were still refused for now (429/5xx) after {ITEM_ATTEMPTS} tries"
    )


def _rejected(event: StoredEvent, outcome: dict[str, Any]) -> RejectedDocument:
    error = outcome.get("error")
    if isinstance(error, dict):
        reason = f"{error.get('type', 'error')}: {error.get('reason', '')}"
    else:
        reason = f"HTTP {outcome.get('status')}: {error}"
    return RejectedDocument(event.source, event.event_key, reason[:300], event.document)


@dataclass(frozen=True)
class SearchPage:
    """One page of events, each its ``_source`` plus ``_id``; ``after`` asks for the next."""

    events: list[dict[str, Any]]
    total: int
    after: list[Any] | None


def search_events(
    backend: SearchBackend,
    *,
    prefix: str,
    query_string: str | None,
    start: datetime,
    end: datetime,
    size: int = 50,
    search_after: Sequence[Any] | None = None,
    newest_first: bool = True,
) -> SearchPage:
    """Events with ``start <= @timestamp < end`` matching the Lucene ``query_string``.

    Sorted by ``@timestamp`` then ``_doc``. That pair is unique while each daily index has
    one primary shard (the default): events of one instant share a day, hence an index.
    """
    order = "desc" if newest_first else "asc"
    range_filter = {"range": {"@timestamp": {"gte": start.isoformat(), "lt": end.isoformat()}}}
    must: list[dict[str, Any]] = []
    if query_string:
        must.append({"query_string": {"query": query_string, "default_field": "message"}})
    body: dict[str, Any] = {
        "query": {"bool": {"filter": [range_filter], "must": must}},
        "sort": [{"@timestamp": order}, {"_doc": order}],
        "size": max(1, min(size, MAX_PAGE)),
        "track_total_hits": True,
    }
    if search_after is not None:
        body["search_after"] = list(search_after)
    found = backend.search(events_pattern(prefix), body)
    hits = found["hits"]["hits"]
    events = [{**hit["_source"], "_id": hit["_id"]} for hit in hits]
    after = hits[-1]["sort"] if len(hits) == body["size"] else None
    return SearchPage(events, int(found["hits"]["total"]["value"]), after)


def purge_indices_before(backend: SearchBackend, prefix: str, day: date) -> list[str]:
    """Delete the daily event indices of days before ``day``, one by exact name.

    Each deletion is logged as it happens, so a cluster that fails midway leaves a record
    of what is gone; the error is raised (the next run deletes the rest).
    """
    daily = re.compile(re.escape(f"{prefix}-events-") + r"(\d{4})\.(\d{2})\.(\d{2})")
    deleted = []
    for name in backend.indices(events_pattern(prefix)):
        match = daily.fullmatch(name)
        if match is None:
            continue  # not one of ours (another prefix that starts the same way)
        try:
            index_day = date(*(int(part) for part in match.groups()))
        except ValueError:
            continue
        if index_day < day:
            backend.delete_index(check_exact_index(name))
            log.info("search index deleted", extra={"wachter.index": name})
            deleted.append(name)
    return deleted
