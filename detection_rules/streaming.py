"""Streaming detection: every stored event meets the enabled rules once, inside the service.

``DetectionConsumer`` is an event-stream consumer (``ingest.pipeline.EventConsumer``, by
shape): the delivery job hands it each batch of stored events in id order and commits its
cursor in the same transaction as the detections and the correlation state written here.
A crash therefore loses nothing and doubles nothing: the batch is delivered again and the
state it started from is still the committed one.

The compiled engine is cached in the consumer and rebuilt when the enabled rules or the
``|expand`` lists change (a cheap stamp is read every batch), so an edit in the console
or ``wachter rules``/``wachter lists`` takes effect within a second, without a restart.
Compiled rules are kept per (key, version): a rebuild compiles only what changed and the
rules whose lists changed.

The correlation state lives in ``correlation_state`` (one row per group) and is updated
from ``CorrelationEngine.dirty()`` every batch. A marker row says up to which event the
stored state reaches; when it is not where this process left it (another worker ran the
job, or a transaction was rolled back), the state is reloaded from the table first.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import orjson
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.filters import SigmaFilter
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule
from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session

from core import Clock, SystemClock
from detection_rules.correlation_store import load_windows, save_window_changes
from detection_rules.engine import Detection, DetectionEngine, RuleSet, compile_rule_set
from detection_rules.matcher import CompiledRule, OfficeHours, derived_fields
from detection_rules.models import CorrelationState, DetectionRule
from detection_rules.models import Detection as DetectionRow
from detection_rules.pipelines import default_pipeline
from detection_rules.service import RuleText, enabled_rule_texts, get_lists, lists_version

log = logging.getLogger("wachter.detection")

CONSUMER_NAME = "detection"
# Correlation windows close this long after the stream passes them, so events that arrive
# a little late still count; lt/lte ("too few") rules fire after this delay. The stream's
# time is the newest event time of the batch, capped by the clock: a live stream follows
# the clock, and a month of old logs imported with `wachter ingest` keeps its windows open
# across batches instead of closing them all against today's date.
LATENESS = timedelta(minutes=2)
_MARKER_KEY = "__stream__"


class StoredEvent(Protocol):
    """What the consumer needs of a stored event (``storage.events.Event``)."""

    id: int
    timestamp: datetime

    @property
    def data(self) -> dict[str, Any]: ...


@dataclass
class _Built:
    stamp: tuple[str, str]
    engine: DetectionEngine
    rules: dict[tuple[str, int | None], CompiledRule]
    lists: Mapping[str, tuple[str, ...]]
    last_event_id: int | None = None


class DetectionConsumer:
    """The detection engine as a consumer of the event stream (name ``detection``)."""

    name = CONSUMER_NAME

    def __init__(
        self,
        *,
        office_hours: OfficeHours | None = None,
        pipeline: ProcessingPipeline | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._derived = derived_fields(office_hours)
        self._pipeline = pipeline
        self._clock = clock or SystemClock()
        self._built: _Built | None = None

    def consume(self, session: Session, events: Sequence[StoredEvent]) -> None:
        built = self._current(session)
        marker = _load_marker(session)
        if marker != built.last_event_id:
            _restore_state(session, built)
        engine = built.engine
        found: list[Detection] = []
        for event in events:
            found.extend(_detections_of(engine, event))
        now = self._clock.now()
        newest = max((event.timestamp for event in events), default=now)
        found.extend(engine.advance(min(now, newest) - LATENESS))
        rows = [detection_row(detection, now) for detection in found]
        session.add_all(rows)
        if events:
            built.last_event_id = events[-1].id
        _save_state(session, engine, built.last_event_id, now)
        if rows:
            log.info("detections", extra={"wachter.detections": len(rows)})

    def _current(self, session: Session) -> _Built:
        stamp = (rules_stamp(session), lists_version(session))
        if self._built is not None and self._built.stamp == stamp:
            return self._built
        self._built = self._build(session, stamp)
        return self._built

    def _build(self, session: Session, stamp: tuple[str, str]) -> _Built:
        previous = self._built
        texts = enabled_rule_texts(session)
        lists = get_lists(session)
        pipeline = self._pipeline or default_pipeline()
        rule_set, silent, compiled = compile_texts(texts, lists, pipeline, previous)
        engine = DetectionEngine(
            rule_set,
            derived=self._derived,
            versions={text.key: text.version for text in texts},
            silent=silent,
        )
        log.info(
            "detection rules loaded",
            extra={
                "wachter.rules": len(rule_set.rules),
                "wachter.correlations": len(rule_set.correlations),
            },
        )
        built = _Built(stamp, engine, compiled, lists)
        _restore_state(session, built)
        return built


def _detections_of(engine: DetectionEngine, event: StoredEvent) -> list[Detection]:
    """The event's detections; an event the engine fails on is logged and passed over.

    One event that trips a rule (a bug, or a pathological value) must not stop detection
    for every event after it: the batch would fail and be delivered again, forever.
    """
    try:
        return engine.process(event.data, ref=event.id, fallback_time=event.timestamp)
    except Exception:  # the stream goes on; the log names the event, not its content
        log.exception("event not matched", extra={"wachter.event_id": event.id})
        return []


def rules_stamp(session: Session) -> str:
    """A value that changes whenever a rule is added, edited, enabled or disabled."""
    count, latest, versions, enabled = session.execute(
        select(
            func.count(DetectionRule.key),
            func.max(DetectionRule.updated_at),
            func.coalesce(func.sum(DetectionRule.current_version), 0),
            func.coalesce(func.sum(case((DetectionRule.enabled, 1), else_=0)), 0),
        )
    ).one()
    return f"{count}:{latest}:{versions}:{enabled}"


def compile_texts(
    texts: Sequence[RuleText],
    lists: Mapping[str, tuple[str, ...]],
    pipeline: ProcessingPipeline,
    previous: _Built | None,
) -> tuple[RuleSet, frozenset[str], dict[tuple[str, int | None], CompiledRule]]:
    rules: list[SigmaRule | SigmaCorrelationRule | SigmaFilter] = []
    for text in texts:
        try:
            rules.extend(SigmaCollection.from_yaml(text.text, resolve_references=False).rules)
        except Exception:  # a stored rule was valid when imported; never stop the stream
            log.exception("stored rule unreadable", extra={"wachter.rule": text.key})
    collection = SigmaCollection(rules)
    try:
        collection.resolve_rule_references()
    except SigmaError:
        log.exception("stored correlation refers to a missing rule")
    rule_set, rejected = compile_rule_set(
        collection.rules,
        pipeline=pipeline,
        lists=lists,
        versions={text.key: text.version for text in texts},
        reuse=previous.rules if previous else None,
        lists_changed=previous is None or previous.lists != lists,
    )
    for item in rejected:
        log.warning(
            "stored rule not compiled", extra={"wachter.rule": item.key, "reason": str(item.error)}
        )
    silent = frozenset(text.key for text in texts if not text.enabled)
    compiled = {(rule.key, rule.version): rule for rule in rule_set.rules}
    return rule_set, silent, compiled


def detection_row(
    detection: Detection, now: datetime, *, documents: list[dict[str, Any]] | None = None
) -> DetectionRow:
    """The stored detection. Its refs are event table ids, unless ``documents`` is given: a
    scheduled search's cluster documents (``detection_rules.search.scheduled``)."""
    explanation: Any = detection.explanation_json()
    if detection.correlation is not None:
        explanation = {"correlation": detection.correlation}
    refs = list(detection.event_refs) if documents is None else []
    return DetectionRow(
        detected_at=now,
        rule_key=detection.rule_key,
        rule_version=detection.version or 0,
        event_time=detection.time,
        event_ids=orjson.dumps(refs).decode(),
        documents=None if documents is None else orjson.dumps(documents).decode(),
        group_values=None
        if detection.group is None
        else orjson.dumps(detection.group, default=str).decode(),
        explanation=orjson.dumps(explanation, default=str).decode(),
        level=detection.level,
        title=detection.title[:500],
    )


def _load_marker(session: Session) -> int | None:
    # Columns, not ORM objects, here and below: the rows are replaced by bulk statements.
    raw = session.scalar(
        select(CorrelationState.state).where(
            CorrelationState.rule_key == _MARKER_KEY, CorrelationState.group_key == ""
        )
    )
    return None if raw is None else int(orjson.loads(raw)["last_event_id"])


def _restore_state(session: Session, built: _Built) -> None:
    load_windows(session, built.engine, CorrelationState, skip_keys=[_MARKER_KEY])
    built.last_event_id = _load_marker(session)


def _save_state(
    session: Session, engine: DetectionEngine, last_event_id: int | None, now: datetime
) -> None:
    save_window_changes(session, engine, CorrelationState, now=now)
    if last_event_id is not None:
        session.execute(delete(CorrelationState).where(CorrelationState.rule_key == _MARKER_KEY))
        session.add(
            CorrelationState(
                rule_key=_MARKER_KEY,
                rule_version=0,
                group_key="",
                state=orjson.dumps({"last_event_id": last_event_id}).decode(),
                updated_at=now,
            )
        )
    session.flush()
