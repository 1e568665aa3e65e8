"""Detections as the console reads them: newest first, one by one, with their explanation
and the stored events they point at.

The ``detection`` table is the record of what the rules found; ``incidents.alerts`` turns
each detection into (part of) an alert, and an alert's page links here for the why. A
detection keeps the ids of its events, not the events: retention may have purged them since,
and ``detection_events`` says which ones are gone instead of pretending they never existed.
The explanation and the group are JSON written by ``detection_rules.streaming``; they are
read back into frozen values here, tolerating a shape they do not know (a detection is never
unreadable).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import NotFound
from core.i18n import N_
from detection_rules.models import KEY_LENGTH, Detection
from storage.events import Event

# A correlation keeps at most 1,000 events per window; a page shows the first ones.
MAX_EVENTS_SHOWN: Final = 50


@dataclass(frozen=True)
class MatchedField:
    """A field of the event (None: a keyword search), the rule's pattern, the event's value."""

    field: str | None
    pattern: str
    value: Any


@dataclass(frozen=True)
class MatchedSelection:
    """A selection of the rule that matched (``logsource``: the pipeline's condition)."""

    selection: str
    fields: tuple[MatchedField, ...]


@dataclass(frozen=True)
class CorrelationSummary:
    """Why a correlation fired: its type, the count it reached, over which time span."""

    type: str
    value: Any
    first_time: datetime | None
    last_time: datetime | None
    truncated: bool


@dataclass(frozen=True)
class Explanation:
    selections: tuple[MatchedSelection, ...] = ()
    correlation: CorrelationSummary | None = None


@dataclass(frozen=True)
class DetectionEvents:
    """The first ``MAX_EVENTS_SHOWN`` events of a detection that are still stored.

    ``missing`` are the ids among those first ones that are no longer stored (purged by
    retention); ``total`` is how many events the detection points at in all.
    """

    events: tuple[Event, ...]
    missing: tuple[int, ...]
    total: int
    # A scheduled search's detection points at documents on the cluster instead.
    documents: tuple[ClusterDocument, ...] = ()

    @property
    def all_missing(self) -> bool:
        return self.total > 0 and not self.events and not self.documents


@dataclass(frozen=True)
class ClusterDocument:
    """A document on the search cluster that a scheduled search matched (scale-out)."""

    index: str
    id: str
    # The copy kept with the detection; None when only the reference was kept (a
    # correlation's events, or a document too large to copy).
    source: dict[str, Any] | None


def list_detections(
    session: Session,
    *,
    rule_key: str | None = None,
    level: str | None = None,
    limit: int,
    before_id: int | None = None,
) -> list[Detection]:
    """Detections newest first (by id, which grows as they are stored), ``limit`` at most.

    ``before_id`` pages back: only detections with a lower id.
    """
    query = select(Detection).order_by(Detection.id.desc()).limit(limit)
    if rule_key:
        query = query.where(Detection.rule_key == rule_key[:KEY_LENGTH])
    if level:
        query = query.where(Detection.level == level)
    if before_id is not None:
        query = query.where(Detection.id < before_id)
    return list(session.scalars(query))


def get_detection(session: Session, detection_id: int) -> Detection:
    detection = session.get(Detection, detection_id)
    if detection is None:
        raise NotFound(N_("There is no detection %(id)s."), id=detection_id)
    return detection


def event_ids_of(detection: Detection) -> list[int]:
    """The ids of the detection's events, in the order the detection keeps them."""
    loaded = _json(detection.event_ids)
    if not isinstance(loaded, list):
        return []
    return [item for item in loaded if isinstance(item, int) and not isinstance(item, bool)]


def documents_of(detection: Detection) -> tuple[ClusterDocument, ...]:
    """The cluster documents of a scheduled search's detection; empty for the stream's."""
    loaded = _json(detection.documents) if detection.documents else None
    if not isinstance(loaded, list):
        return ()
    return tuple(
        ClusterDocument(
            index=str(item["index"]),
            id=str(item["id"]),
            source=item.get("source") if isinstance(item.get("source"), dict) else None,
        )
        for item in loaded
        if isinstance(item, dict) and "index" in item and "id" in item
    )


def group_of(detection: Detection) -> dict[str, Any]:
    """A correlation's group-by fields and their values; empty for a single-event rule."""
    loaded = _json(detection.group_values) if detection.group_values else None
    return loaded if isinstance(loaded, dict) else {}


def explanation_of(detection: Detection) -> Explanation:
    """Which selections matched on which fields and values, or why a correlation fired."""
    loaded = _json(detection.explanation)
    if isinstance(loaded, dict) and isinstance(loaded.get("correlation"), dict):
        hit = loaded["correlation"]
        return Explanation(
            correlation=CorrelationSummary(
                type=str(hit.get("type", "")),
                value=hit.get("value"),
                first_time=_time(hit.get("first_time")),
                last_time=_time(hit.get("last_time")),
                truncated=bool(hit.get("truncated", False)),
            )
        )
    if not isinstance(loaded, list):
        return Explanation()
    return Explanation(
        selections=tuple(
            MatchedSelection(str(item.get("selection", "")), _fields(item.get("fields")))
            for item in loaded
            if isinstance(item, dict)
        )
    )


def detection_events(session: Session, detection: Detection) -> DetectionEvents:
    """The detection's first events that are still stored, and those that are not."""
    wanted = event_ids_of(detection)
    shown = wanted[:MAX_EVENTS_SHOWN]
    stored = {
        event.id: event for event in session.scalars(select(Event).where(Event.id.in_(shown)))
    }
    documents = documents_of(detection)
    return DetectionEvents(
        events=tuple(stored[event_id] for event_id in shown if event_id in stored),
        missing=tuple(event_id for event_id in shown if event_id not in stored),
        total=len(wanted) + len(documents),
        documents=documents[:MAX_EVENTS_SHOWN],
    )


def _fields(raw: Any) -> tuple[MatchedField, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        MatchedField(
            field=_optional_text(item.get("field")),
            pattern=str(item.get("pattern", "")),
            value=item.get("value"),
        )
        for item in raw
        if isinstance(item, dict)
    )


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # written by us; still, a bad row must not break a page
        return None
