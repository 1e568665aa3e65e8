"""One scheduled Sigma search: a rule's query over an index pattern, run like Elastic's engine.

Each run searches the documents whose ``event.ingested`` lies in
``(checkpoint - look-back, now]`` (first run: ``(now - look-back, now]``), where the
checkpoint is the newest ``event.ingested`` the previous run found in the pattern. The
look-back overlap catches documents that became searchable late (refresh, ingest lag,
a shipper's retries); ``search_hit_seen`` makes sure each is reported once per rule
version. A new rule version is a new rule: it may report documents its previous version
did, as long as they are inside its first window.

Paging is ``search_after`` inside a point in time (PIT), sorted on ``event.ingested``
then ``_shard_doc``. Why a PIT: ``search_after`` needs a sort that is unique per document,
and in Elasticsearch 8+ sorting on ``_id`` is refused (``indices.id_field_data.enabled``
is off); ``_shard_doc`` is unique, costs nothing, and exists only inside a PIT — on both
Elasticsearch 9 and OpenSearch 3, the two tested here. An id field written by Wachter
(``event.id``) would not exist in a Beats index. The PIT also gives every page the same
view of the data, so nothing moves between pages of one run.

Everything is read first; only then are dedup rows and the checkpoint written, with
``flush`` in the caller's transaction. A node that fails midway raises before anything is
written; a crash after writing loses the transaction, so the window is searched again and
the dedup rows (rolled back with it) do not hide its hits.

The node is reached through ``SearchClient``, a protocol of three calls, so this module
needs neither client library. Wachter's search backends (``storage.search``:
``ElasticsearchBackend``, ``OpenSearchBackend``) implement it as they are; their errors are
``SearchUnavailable`` (try again later) and ``SearchRejected`` (the request is wrong).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from detection_rules.search.models import PATTERN_LENGTH, SearchCheckpoint, SearchHitSeen

log = logging.getLogger("wachter.detection.search")

INGESTED: Final = "event.ingested"
KEEP_ALIVE: Final = "2m"  # a PIT lives this long between two pages of one run
MAX_PAGE_SIZE: Final = 10_000  # Elasticsearch's and OpenSearch's default result window
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_CHUNK: Final = 500  # ids per dedup query (bound parameters stay well below the limits)


class SearchClient(Protocol):
    """The three calls a run makes; an adapter per client library implements them.

    ``open_point_in_time`` returns ``None`` when no index matches the pattern (OpenSearch
    refuses a PIT over nothing; Elasticsearch gives an empty one). ``search`` is called with
    ``index=None`` and a body naming the PIT (a PIT search must not name indices); it returns
    the response as a mapping. Errors (node unreachable, request refused) are raised as the
    client raises them (Wachter's backends: ``storage.search.SearchError``).
    """

    def open_point_in_time(self, index: str, keep_alive: str) -> str | None: ...

    def search(self, index: str | None, body: Mapping[str, Any]) -> Mapping[str, Any]: ...

    def close_point_in_time(self, pit_id: str) -> None: ...


class VersionedRule(Protocol):
    """What a run needs of a rule (``detection_rules.service.RuleText`` has it)."""

    @property
    def key(self) -> str: ...

    @property
    def version(self) -> int: ...


class SearchFailed(RuntimeError):
    """The node answered, but not for every shard (or timed out): the run is not trusted."""


@dataclass(frozen=True)
class SearchHit:
    """A document a rule version matched for the first time."""

    rule_key: str
    rule_version: int
    index: str
    doc_id: str
    ingested: datetime
    source: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class _Document:
    index: str
    doc_id: str
    ingested: datetime
    source: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Window:
    pattern: str
    start: datetime  # exclusive
    end: datetime  # inclusive

    def range_filter(self) -> dict[str, Any]:
        return {
            "range": {
                INGESTED: {
                    "gt": _iso(self.start),
                    "lte": _iso(self.end),
                    "format": "strict_date_optional_time",
                }
            }
        }


def run_rule(
    session: Session,
    client: SearchClient,
    *,
    rule: VersionedRule,
    query: Mapping[str, Any],
    index_pattern: str,
    now: datetime,
    lookback: timedelta,
    page_size: int = 500,
) -> list[SearchHit]:
    """Search ``rule``'s window once; returns the hits not reported before, oldest first.

    ``query`` is the body ``convert.query_for`` made. Records the returned hits as seen and
    moves the checkpoint (``flush``, never ``commit``). Raises ``SearchFailed`` or the
    client's error, leaving the database as it was. The three steps are public for a caller
    that must not hold a transaction while the cluster is asked (the scheduled job).
    """
    window = window_for(session, rule=rule, index_pattern=index_pattern, now=now, lookback=lookback)
    found = search_window(client, query, window, page_size=page_size)
    return record_found(session, rule=rule, found=found)


@dataclass(frozen=True)
class Found:
    """What one search of a window found: its documents and the data's newest time."""

    window: Window
    documents: tuple[_Document, ...]
    newest: datetime | None


def window_for(
    session: Session,
    *,
    rule: VersionedRule,
    index_pattern: str,
    now: datetime,
    lookback: timedelta,
) -> Window:
    """The window ``rule``'s next search covers (reads its checkpoint; writes nothing)."""
    _check_arguments(index_pattern, now, lookback)
    checkpoint = session.get(SearchCheckpoint, (rule.key, index_pattern))
    reached = checkpoint.reached if checkpoint is not None else None
    return Window(index_pattern, (reached or now) - lookback, now)


def search_window(
    client: SearchClient, query: Mapping[str, Any], window: Window, *, page_size: int = 500
) -> Found:
    """Every document of ``window`` the query matches (no database involved)."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be 1 to {MAX_PAGE_SIZE}")
    documents, newest = _search(client, query, window, page_size)
    return Found(window, tuple(documents), newest)


def record_found(session: Session, *, rule: VersionedRule, found: Found) -> list[SearchHit]:
    """Keep the documents ``rule``'s version has not reported, mark them seen, move the
    checkpoint (``flush``); returns them, oldest first."""
    window, now = found.window, found.window.end
    fresh = _unseen(session, rule, found.documents)
    session.add_all(
        SearchHitSeen(
            rule_key=rule.key,
            rule_version=rule.version,
            index_name=hit.index,
            doc_id=hit.doc_id,
            ingested=hit.ingested,
            seen_at=now,
        )
        for hit in fresh
    )
    checkpoint = session.get(SearchCheckpoint, (rule.key, window.pattern))
    _move_checkpoint(
        session, checkpoint, rule_key=rule.key, pattern=window.pattern, newest=found.newest, now=now
    )
    session.flush()
    log.debug(
        "scheduled search ran",
        extra={
            "wachter.rule": rule.key,
            "wachter.index_pattern": window.pattern,
            "wachter.found": len(found.documents),
            "wachter.new": len(fresh),
        },
    )
    return fresh


def prune_seen(session: Session, before: datetime) -> int:
    """Forget the reported documents ingested before ``before``; returns how many.

    Safe for ``before`` earlier than every checkpoint minus the look-back (and a margin):
    no window reaches back there. Called by the search job, never inside ``run_rule``.
    """
    result = session.execute(delete(SearchHitSeen).where(SearchHitSeen.ingested < before))
    return int(result.rowcount)  # type: ignore[attr-defined]


def _check_arguments(pattern: str, now: datetime, lookback: timedelta) -> None:
    # The caller's configuration, checked by core.settings already: a bug if wrong here.
    if not pattern or len(pattern) > PATTERN_LENGTH:
        raise ValueError(f"an index pattern has 1 to {PATTERN_LENGTH} characters")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    if lookback < timedelta(0):
        raise ValueError("the look-back cannot be negative")


def _search(
    client: SearchClient, query: Mapping[str, Any], window: Window, page_size: int
) -> tuple[list[_Document], datetime | None]:
    """Every document of the window the query matches, and the newest ``event.ingested``."""
    pit_id = client.open_point_in_time(window.pattern, KEEP_ALIVE)
    if pit_id is None:
        return [], None
    holder = [pit_id]  # the PIT id may change with every response
    try:
        documents = list(_pages(client, holder, query, window, page_size))
        newest = _newest(client, holder, window)
    finally:
        _close(client, holder[0])
    return documents, newest


def _pages(
    client: SearchClient,
    holder: list[str],
    query: Mapping[str, Any],
    window: Window,
    page_size: int,
) -> Iterator[_Document]:
    after: Sequence[Any] | None = None
    while True:
        body: dict[str, Any] = {
            "size": page_size,
            "query": {"bool": {"filter": [query["query"], window.range_filter()]}},
            "sort": [_ingested_sort("asc"), {"_shard_doc": "asc"}],
            "track_total_hits": False,
        }
        if after is not None:
            body["search_after"] = list(after)
        hits = _checked_hits(client, holder, body)
        for hit in hits:
            yield _document(hit)
        if len(hits) < page_size:
            return
        after = hits[-1]["sort"]


def _newest(client: SearchClient, holder: list[str], window: Window) -> datetime | None:
    # The data's frontier, not only this rule's hits: a rule that rarely matches would
    # otherwise keep an old checkpoint and search an ever longer window.
    body = {
        "size": 1,
        "query": window.range_filter(),
        "sort": [_ingested_sort("desc")],
        "_source": False,
        "track_total_hits": False,
    }
    hits = _checked_hits(client, holder, body)
    return _millis(hits[0]["sort"][0]) if hits else None


def _checked_hits(
    client: SearchClient, holder: list[str], body: dict[str, Any]
) -> list[Mapping[str, Any]]:
    body["pit"] = {"id": holder[0], "keep_alive": KEEP_ALIVE}
    response = client.search(None, body)
    shards = response.get("_shards", {})
    if shards.get("failed") or response.get("timed_out"):
        raise SearchFailed(
            f"search over {shards.get('failed', 0)} of {shards.get('total', '?')} shards "
            f"failed or timed out"
        )
    holder[0] = response.get("pit_id") or holder[0]
    return list(response["hits"]["hits"])


def _ingested_sort(order: str) -> dict[str, Any]:
    # numeric_type "date": date and date_nanos indices in one pattern sort alike (in ms);
    # unmapped_type: an index of the pattern without the field is no error.
    return {INGESTED: {"order": order, "numeric_type": "date", "unmapped_type": "date"}}


def _document(hit: Mapping[str, Any]) -> _Document:
    return _Document(
        index=str(hit["_index"]),
        doc_id=str(hit["_id"]),
        ingested=_millis(hit["sort"][0]),
        source=hit.get("_source") or {},
    )


def _close(client: SearchClient, pit_id: str) -> None:
    # A PIT left open expires after KEEP_ALIVE; failing to close it must not hide the
    # error that brought us here, nor fail a run that succeeded.
    try:
        client.close_point_in_time(pit_id)
    except Exception:
        log.warning("point in time not closed", exc_info=True)


def _unseen(
    session: Session, rule: VersionedRule, documents: Sequence[_Document]
) -> list[SearchHit]:
    seen: set[tuple[str, str]] = set()
    ids = sorted({document.doc_id for document in documents})
    for offset in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(SearchHitSeen.index_name, SearchHitSeen.doc_id).where(
                SearchHitSeen.rule_key == rule.key,
                SearchHitSeen.rule_version == rule.version,
                SearchHitSeen.doc_id.in_(ids[offset : offset + _CHUNK]),
            )
        )
        seen.update((index, doc_id) for index, doc_id in rows)
    return [
        SearchHit(rule.key, rule.version, doc.index, doc.doc_id, doc.ingested, doc.source)
        for doc in documents
        if (doc.index, doc.doc_id) not in seen
    ]


def _move_checkpoint(
    session: Session,
    checkpoint: SearchCheckpoint | None,
    *,
    rule_key: str,
    pattern: str,
    newest: datetime | None,
    now: datetime,
) -> None:
    if checkpoint is None:
        checkpoint = SearchCheckpoint(rule_key=rule_key, index_pattern=pattern, reached=None)
        session.add(checkpoint)
    if newest is not None:
        reached = min(newest, now)  # never past now, whatever a node's clock wrote
        checkpoint.reached = (
            reached if checkpoint.reached is None else max(checkpoint.reached, reached)
        )
    checkpoint.ran_at = now


def _millis(value: Any) -> datetime:
    return _EPOCH + timedelta(milliseconds=int(value))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
