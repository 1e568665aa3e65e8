"""The scheduled searches job: every enabled rule, every interval, on the named index patterns.

In scale-out mode Wachter matches its own events as they arrive (the streaming matcher,
``detection_rules.streaming``), before they even reach the cluster; the scheduled searches
are for the indices others write, such as ``winlogbeat-*`` filled by Beats
(``WACHTER_DETECTION_INDICES``). Wachter's own indices (its events, its copy of the alerts)
are left out of every search (``must_not`` on their names): a pattern such as ``*`` never
reports an event twice, nor runs the rules over Wachter's own alerts.

Each run:

1. builds (when a rule or list changed) the query of every enabled single-event rule
   through the ECS pipeline (``convert.query_for``) and, through the same pipeline, the
   matcher's compiled rules and correlations (``DetectionEngine``), and reads each rule's
   window (``runner.window_for``) — all in a read-only transaction, then ended;
2. runs every rule's search on every pattern (``runner.search_window``: point in time,
   ``search_after`` paging), holding no transaction while the cluster answers;
3. in one short transaction: loads the correlation windows from
   ``search_correlation_state``, keeps each rule's new hits and moves its checkpoint
   (``runner.record_found``: dedup), hands each new hit to ``DetectionEngine.record_match``
   — the same code the streaming matcher uses: one detection per hit, and the correlation
   hits it causes (one correlation engine, two feeders) — closes the windows the searches
   can no longer add to, writes detections and windows, and forgets old dedup rows.

A rule whose query the cluster refuses is logged and skipped; the others run. When the
cluster is unavailable (or a search fails on some shards) the run stops there: what the
rules before it found is kept (each rule's hits, detections and checkpoint are consistent
on their own) and the next run searches the rest again. ``incidents.alerts`` turns the
detections into alerts as it does the streaming matcher's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import orjson
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from detection_rules.correlation_store import load_windows, save_window_changes
from detection_rules.engine import Detection, DetectionEngine
from detection_rules.models import Detection as DetectionRow
from detection_rules.models import SearchCorrelationState
from detection_rules.pipelines import build_pipeline
from detection_rules.search.convert import ConversionError, EventSource, pipelines_for, query_for
from detection_rules.search.models import SearchCheckpoint
from detection_rules.search.runner import (
    Found,
    SearchClient,
    SearchFailed,
    SearchHit,
    Window,
    prune_seen,
    record_found,
    search_window,
    window_for,
)
from detection_rules.service import RuleText, enabled_rule_texts, get_lists, lists_version
from detection_rules.streaming import LATENESS, compile_texts, detection_row, rules_stamp
from storage.database import READ_ONLY
from storage.search import SearchRejected, SearchUnavailable

log = logging.getLogger("wachter.detection.search")

JOB_NAME: Final = "detection_rules.scheduled_searches"
# A copied document above this size loses its bulky text fields first (the matched fields
# stay); one still above it is kept as a reference only.
SOURCE_LIMIT: Final = 64 * 1024
_BULKY: Final = ("event.original", "message")
# Dedup rows are kept this long beyond the oldest window a run can still search.
PRUNE_MARGIN: Final = timedelta(hours=1)


@dataclass
class _Built:
    stamp: tuple[str, str]
    engine: DetectionEngine
    searches: tuple[tuple[RuleText, dict[str, Any]], ...]


class ScheduledSearches:
    """The job body (``run(session, now)``), one per process; rules are rebuilt on change."""

    def __init__(
        self,
        client: SearchClient,
        *,
        patterns: Sequence[str],
        lookback: timedelta,
        exclude_prefixes: Sequence[str] = (),
    ) -> None:
        if not patterns:
            raise ValueError("scheduled searches need at least one index pattern")
        self.client = client
        self.patterns = tuple(patterns)
        self.lookback = lookback
        self._exclude = tuple(exclude_prefixes)
        self._built: _Built | None = None

    def run(self, session: Session, now: datetime) -> None:
        """One run. Give it a session with nothing pending (the job's): the rules and
        windows are read in a read-only transaction that ends before the cluster is asked
        anything, so no transaction (on SQLite: no write lock) is held while it answers;
        what was found is written in one short transaction at the end."""
        started = time.monotonic()
        if not session.in_transaction():
            session.connection(execution_options={READ_ONLY: True})
        built = self._current(session)
        planned = [
            (text, query, window_for(session, rule=text, index_pattern=pattern, now=now,
                                     lookback=self.lookback))
            for pattern in self.patterns
            for text, query in built.searches
        ]  # fmt: skip
        session.commit()  # ends the read
        found = self._search(planned)
        load_windows(session, built.engine, SearchCorrelationState)
        rows: list[DetectionRow] = []
        for text, result in found:
            for hit in record_found(session, rule=text, found=result):
                rows.extend(_row(detection, now, hit) for detection in _detections(built, hit))
        closed = built.engine.advance(now - self.lookback - LATENESS)
        rows.extend(_row(detection, now, None) for detection in closed)
        session.add_all(rows)
        save_window_changes(session, built.engine, SearchCorrelationState, now=now)
        self._prune(session, built)
        session.flush()
        log.info(
            "scheduled searches ran",
            extra={
                "wachter.searches": len(planned),
                "wachter.searched": len(found),
                "wachter.detections": len(rows),
                "wachter.seconds": round(time.monotonic() - started, 3),
            },
        )

    def _search(
        self, planned: Sequence[tuple[RuleText, dict[str, Any], Window]]
    ) -> list[tuple[RuleText, Found]]:
        """Each planned search, in order, until the cluster is away (the rest wait)."""
        found: list[tuple[RuleText, Found]] = []
        for text, query, window in planned:
            try:
                result = search_window(self.client, self._without_own_indices(query), window)
            except SearchRejected as error:
                log.warning(
                    "scheduled search refused",
                    extra={"wachter.rule": text.key, "wachter.index_pattern": window.pattern,
                           "reason": str(error)[:300]},
                )  # fmt: skip
                continue
            except (SearchUnavailable, SearchFailed) as error:
                log.warning("scheduled searches stopped for this run", extra={"reason": str(error)})
                break
            found.append((text, result))
        return found

    def _without_own_indices(self, query: Mapping[str, Any]) -> dict[str, Any]:
        if not self._exclude:
            return dict(query)
        return {
            "query": {
                "bool": {
                    "filter": [query["query"]],
                    "must_not": [{"prefix": {"_index": prefix}} for prefix in self._exclude],
                }
            }
        }

    def _current(self, session: Session) -> _Built:
        stamp = (rules_stamp(session), lists_version(session))
        if self._built is None or self._built.stamp != stamp:
            self._built = _build(session, stamp)
        return self._built

    def _prune(self, session: Session, built: _Built) -> None:
        # The oldest window any of these rules can still search starts one look-back before
        # its checkpoint; what was seen before that can never be found again.
        keys = [text.key for text, _query in built.searches]
        if not keys:
            return
        oldest = session.scalar(
            select(func.min(SearchCheckpoint.reached)).where(
                SearchCheckpoint.rule_key.in_(keys),
                SearchCheckpoint.index_pattern.in_(self.patterns),
            )
        )
        if oldest is not None:
            prune_seen(session, before=oldest - self.lookback - PRUNE_MARGIN)


def _build(session: Session, stamp: tuple[str, str]) -> _Built:
    texts = enabled_rule_texts(session)
    lists = get_lists(session)
    names = pipelines_for(EventSource.ECS)
    rule_set, silent, _compiled = compile_texts(texts, lists, build_pipeline(names), None)
    engine = DetectionEngine(
        rule_set, versions={text.key: text.version for text in texts}, silent=silent
    )
    searchable = {rule.key for rule in rule_set.rules}
    searches: list[tuple[RuleText, dict[str, Any]]] = []
    for text in texts:
        if text.key not in searchable:
            continue  # a correlation, or a rule the matcher could not compile (logged there)
        try:
            searches.append((text, query_for(text.text, pipelines=names, lists=lists)))
        except ConversionError as error:
            log.warning(
                "rule not run as a scheduled search",
                extra={"wachter.rule": text.key, "reason": str(error)},
            )
    log.info(
        "scheduled searches loaded",
        extra={
            "wachter.rules": len(searches),
            "wachter.correlations": len(rule_set.correlations),
        },
    )
    return _Built(stamp, engine, tuple(searches))


def _detections(built: _Built, hit: SearchHit) -> list[Detection]:
    try:
        return built.engine.record_match(
            hit.rule_key, hit.source, ref=document_ref(hit.index, hit.doc_id),
            fallback_time=hit.ingested,
        )  # fmt: skip
    except Exception:  # one odd document must not stop the run; the log names it
        log.exception(
            "search hit not recorded",
            extra={"wachter.rule": hit.rule_key, "wachter.doc": hit.doc_id},
        )
        return []


def document_ref(index: str, doc_id: str) -> str:
    """How a cluster document is referred to in correlation windows: ``index/id``.

    Index names cannot hold ``/``, so the first one splits it again (``split_ref``).
    """
    return f"{index}/{doc_id}"


def split_ref(ref: object) -> tuple[str, str] | None:
    if not isinstance(ref, str) or "/" not in ref:
        return None
    index, doc_id = ref.split("/", 1)
    return index, doc_id


def _row(detection: Detection, now: datetime, hit: SearchHit | None) -> DetectionRow:
    return detection_row(detection, now, documents=_documents(detection, hit))


def _documents(detection: Detection, hit: SearchHit | None) -> list[dict[str, Any]]:
    if detection.kind == "rule" and hit is not None:
        return [{"index": hit.index, "id": hit.doc_id, "source": bounded_source(hit.source)}]
    # A correlation names its events; their documents were copied with their own rules'
    # detections (or not at all, for a generate: false rule), so references only here.
    refs = (split_ref(ref) for ref in detection.event_refs)
    return [{"index": ref[0], "id": ref[1]} for ref in refs if ref is not None]


def bounded_source(source: Mapping[str, Any]) -> dict[str, Any] | None:
    """The document as copied into the detection: whole, or without its bulky text, or None."""
    if len(orjson.dumps(source, default=str)) <= SOURCE_LIMIT:
        return dict(source)
    trimmed = _without(source, _BULKY)
    if len(orjson.dumps(trimmed, default=str)) <= SOURCE_LIMIT:
        return trimmed
    return None


def _without(source: Mapping[str, Any], dotted: Sequence[str]) -> dict[str, Any]:
    copied: dict[str, Any] = orjson.loads(orjson.dumps(source, default=str))
    for name in dotted:
        copied.pop(name, None)  # a flat dotted key
        *parents, leaf = name.split(".")
        level: Any = copied
        for parent in parents:
            level = level.get(parent) if isinstance(level, dict) else None
        if isinstance(level, dict):
            level.pop(leaf, None)
    return copied


def expire_document_copies(session: Session, *, before: datetime, limit: int = 1000) -> int:
    """Drop the document copies of detections made before ``before``, keeping index and id.

    The copies are event data: they follow the events' retention (``WACHTER_RETENTION_DAYS``)
    instead of living as long as the detection. Returns how many detections lost theirs.
    """
    rows = session.execute(
        select(DetectionRow.id, DetectionRow.documents)
        .where(DetectionRow.detected_at < before, DetectionRow.documents.like('%"source":%'))
        .order_by(DetectionRow.id)
        .limit(limit)
    ).all()
    for detection_id, documents in rows:
        kept = [
            {"index": item["index"], "id": item["id"]}
            for item in orjson.loads(documents or "[]")
            if isinstance(item, dict) and "index" in item and "id" in item
        ]
        session.execute(
            update(DetectionRow)
            .where(DetectionRow.id == detection_id)
            .values(documents=orjson.dumps(kept).decode())
        )
    return len(rows)
