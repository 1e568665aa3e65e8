"""Reading alerts: the queue with its filters, one alert's detections and entities, the
alerts related to it, and the false-positive feedback per rule.

Filters are allow-listed values (a status, a severity) or bounded text; text search is a
parameterised, escaped LIKE (``%`` and ``_`` match themselves), so a filter can neither
inject SQL nor match everything by accident. Pages are bounded (``MAX_PAGE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import orjson
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from core import InvalidInput
from core.i18n import N_
from detection_rules.models import Detection
from incidents.alerts.models import (
    RULE_KEY_LENGTH,
    Alert,
    AlertDetection,
    AlertEntity,
    AlertStatus,
    Resolution,
)
from incidents.alerts.severity import is_severity
from incidents.entities import EntityKind, normalise

PAGE_SIZE: Final = 50
MAX_PAGE: Final = 200
MAX_TEXT: Final = 200
RELATED_LIMIT: Final = 20
DETECTIONS_SHOWN: Final = 50
OPEN: Final = "open"  # every status but closed
ALL: Final = "all"
STATUS_FILTERS: Final = (OPEN, *(status.value for status in AlertStatus), ALL)


@dataclass(frozen=True)
class AlertFilters:
    """What the queue shows; validated on construction (``InvalidInput`` names the field)."""

    status: str = OPEN
    severity: str | None = None
    rule_key: str | None = None
    text: str | None = None
    entity: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUS_FILTERS:
            raise InvalidInput(N_("Choose a status from the list."), field="status")
        if self.severity is not None and not is_severity(self.severity):
            raise InvalidInput(N_("Choose a severity from the list."), field="severity")
        if self.rule_key is not None and len(self.rule_key) > RULE_KEY_LENGTH:
            raise InvalidInput(
                N_("A rule key is at most %(limit)d characters."),
                field="rule",
                limit=RULE_KEY_LENGTH,
            )
        for name in ("text", "entity"):
            value = getattr(self, name)
            if value is not None and len(value) > MAX_TEXT:
                raise InvalidInput(
                    N_("Search for at most %(limit)d characters."), field=name, limit=MAX_TEXT
                )


@dataclass(frozen=True)
class AlertPage:
    alerts: list[Alert]
    total: int
    page: int

    @property
    def pages(self) -> int:
        return min(MAX_PAGE, max(1, -(-self.total // PAGE_SIZE)))


@dataclass(frozen=True)
class RuleFeedback:
    """How a rule's alerts were closed: what false-positive feedback it has had."""

    closed: int = 0
    false_positives: int = 0
    benign: int = 0
    true_positives: int = 0


def list_alerts(session: Session, filters: AlertFilters, *, page: int = 1) -> AlertPage:
    """The queue: newest last sighting first, ``PAGE_SIZE`` a page, ``MAX_PAGE`` pages."""
    if page < 1 or page > MAX_PAGE:
        raise InvalidInput(N_("That page does not exist."), field="page")
    conditions = _conditions(filters)
    total = session.scalar(select(func.count()).select_from(Alert).where(*conditions)) or 0
    query = (
        select(Alert)
        .where(*conditions)
        .order_by(Alert.last_seen.desc(), Alert.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return AlertPage(alerts=list(session.scalars(query)), total=total, page=page)


def newest_alert_id(session: Session) -> int:
    """The highest alert id so far (0 without alerts): where a queue's "new since" starts."""
    return session.scalar(select(func.max(Alert.id))) or 0


def count_new_alerts(session: Session, filters: AlertFilters, *, after_id: int) -> int:
    """Alerts raised after ``after_id`` that the queue's filters would show."""
    condition = Alert.id > after_id
    return (
        session.scalar(
            select(func.count()).select_from(Alert).where(condition, *_conditions(filters))
        )
        or 0
    )


def entities_of_alert(alert: Alert) -> list[tuple[str, str]]:
    return [(str(kind), str(value)) for kind, value in orjson.loads(alert.entities)]


def tags_of_alert(alert: Alert) -> list[str]:
    return [str(tag) for tag in orjson.loads(alert.tags)]


def group_of_alert(alert: Alert) -> dict[str, str]:
    loaded = orjson.loads(alert.group_values) if alert.group_values else None
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def alert_detections(
    session: Session, alert_id: int, *, limit: int = DETECTIONS_SHOWN
) -> list[Detection]:
    """The alert's detections, newest first (the first ``limit``)."""
    query = (
        select(Detection)
        .join(AlertDetection, AlertDetection.detection_id == Detection.id)
        .where(AlertDetection.alert_id == alert_id)
        .order_by(Detection.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def related_alerts(session: Session, alert: Alert, *, limit: int = RELATED_LIMIT) -> list[Alert]:
    """Other alerts sharing any entity with ``alert``, newest last sighting first."""
    mine, theirs = aliased(AlertEntity), aliased(AlertEntity)
    sharing = (
        select(theirs.alert_id)
        .join(mine, and_(mine.kind == theirs.kind, mine.value == theirs.value))
        .where(mine.alert_id == alert.id, theirs.alert_id != alert.id)
    )
    query = (
        select(Alert)
        .where(Alert.id.in_(sharing))
        .order_by(Alert.last_seen.desc(), Alert.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def rule_feedback(session: Session, rule_key: str | None = None) -> dict[str, RuleFeedback]:
    """Closed alerts per rule by resolution (one rule's, or every rule's)."""
    query = (
        select(Alert.rule_key, Alert.resolution, func.count())
        .where(Alert.status == AlertStatus.CLOSED.value)
        .group_by(Alert.rule_key, Alert.resolution)
    )
    if rule_key is not None:
        query = query.where(Alert.rule_key == rule_key)
    counts: dict[str, dict[str, int]] = {}
    for key, resolution, count in session.execute(query):
        counts.setdefault(key, {})[resolution or ""] = count
    return {
        key: RuleFeedback(
            closed=sum(by_resolution.values()),
            false_positives=by_resolution.get(Resolution.FALSE_POSITIVE.value, 0),
            benign=by_resolution.get(Resolution.BENIGN.value, 0),
            true_positives=by_resolution.get(Resolution.TRUE_POSITIVE.value, 0),
        )
        for key, by_resolution in counts.items()
    }


def false_positive_counts(session: Session) -> dict[str, int]:
    """Alerts closed as false positive, per rule key (rules without any are left out)."""
    return {
        key: feedback.false_positives
        for key, feedback in rule_feedback(session).items()
        if feedback.false_positives
    }


def _conditions(filters: AlertFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.status == OPEN:
        conditions.append(Alert.status != AlertStatus.CLOSED.value)
    elif filters.status != ALL:
        conditions.append(Alert.status == filters.status)
    if filters.severity:
        conditions.append(Alert.severity == filters.severity)
    if filters.rule_key:
        conditions.append(Alert.rule_key == filters.rule_key)
    if filters.text:
        conditions.append(func.lower(Alert.title).contains(filters.text.lower(), autoescape=True))
    if filters.entity:
        conditions.append(_has_entity(filters.entity))
    return conditions


def _has_entity(text: str) -> ColumnElement[bool]:
    """Alerts with an entity of any kind whose normalised form ``text`` has."""
    pairs: set[tuple[str, str]] = set()
    for kind in EntityKind:
        try:
            pairs.add((kind.value, normalise(kind, text)))
        except InvalidInput:
            continue
    if not pairs:
        return Alert.id.is_(None)  # no kind of entity looks like this: nothing matches
    holders = select(AlertEntity.alert_id).where(
        or_(*(and_(AlertEntity.kind == kind, AlertEntity.value == value) for kind, value in pairs))
    )
    return Alert.id.in_(holders)
