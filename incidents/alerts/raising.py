"""Detections become alerts: the job behind ``incidents.raise_alerts``.

``raise_alerts`` reads the detections after its cursor (``IncidentsCursor("alerts")``,
locked for the transaction, so two runners never interleave) and, for each one:

1. holds it back if an active suppression's conditions hold (a ``SuppressedHit``, counted);
2. otherwise fingerprints it (``fingerprint``) and folds it into the open alert with that
   fingerprint last seen within the deduplication window (count, last seen, entities),
   or makes a new alert with the rule's title, tags and severity;
3. records the detection and the alert's entities beside the alert.

Then enabled alert policies raise severities, every alert made or changed gets one feed
entry for the batch (``feeds.changes``), policies that say so open an incident per new
alert, and the cursor moves past the batch. All of it happens in the caller's one
transaction: a crash part-way leaves cursor, alerts and feed as they were, and the next
run does the batch again. Detection ids grow in commit order: their writer holds the
detection consumer's cursor row lock until it commits (``ingest.pipeline``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import Actor
from core import DomainError
from detection_rules.models import Detection
from detection_rules.service import documents_of, event_ids_of, group_of
from incidents.alerts.conditions import all_hold
from incidents.alerts.fields import field_values
from incidents.alerts.fingerprint import (
    MAX_ENTITIES,
    Entity,
    entities_of,
    fingerprint,
    group_texts,
    key_entity,
)
from incidents.alerts.models import (
    Alert,
    AlertDetection,
    AlertEntity,
    AlertPolicy,
    AlertStatus,
    IncidentsCursor,
)
from incidents.alerts.policies import apply_policies, list_policies
from incidents.alerts.rules import RuleFacts, RuleFactsCache
from incidents.alerts.severity import severity_from_level
from incidents.alerts.suppressions import ActiveSuppression, active_suppressions, record_hit
from incidents.feeds import changes as feed_changes
from storage.events import Event

# feeds.changes as a module, not its function: incidents.feeds imports these alerts while
# it loads, so the function may not be defined yet when this module is imported.
log = logging.getLogger("wachter.incidents")
CURSOR_NAME = "alerts"
ALERT_BATCH = 500
IDS_PER_QUERY = 5000
MAX_EVENTS_READ = 50  # of one detection, for its entities (a correlation keeps up to 1,000)


@dataclass
class _Batch:
    session: Session
    now: datetime
    dedup_window: timedelta
    rules: RuleFactsCache
    suppressions: list[ActiveSuppression]
    policies: list[AlertPolicy]
    # The documents of the batch's events, read in one query (event id -> ECS document).
    events: dict[int, dict[str, Any]] = field(default_factory=dict)
    created: dict[int, Alert] = field(default_factory=dict)
    updated: dict[int, Alert] = field(default_factory=dict)
    # The open alert of each fingerprint this batch has met: a burst of repeats folds into
    # it without a query (and an autoflush) per detection.
    by_fingerprint: dict[str, Alert] = field(default_factory=dict)
    suppressed: int = 0


def raise_alerts(
    session: Session, *, now: datetime, dedup_window: timedelta, limit: int = ALERT_BATCH
) -> int:
    """Turn the next ``limit`` detections into alerts; returns how many were handled."""
    cursor = _locked_cursor(session, now)
    detections = list(
        session.scalars(
            select(Detection)
            .where(Detection.id > cursor.position)
            .order_by(Detection.id)
            .limit(limit)
        )
    )
    if not detections:
        return 0
    batch = _Batch(
        session=session,
        now=now,
        dedup_window=dedup_window,
        rules=RuleFactsCache(session),
        suppressions=active_suppressions(session, now),
        policies=list_policies(session, enabled_only=True),
        events=_event_documents(session, detections),
    )
    for detection in detections:
        _handle(batch, detection)
    _finish(batch)
    cursor.position, cursor.updated_at = detections[-1].id, now
    log.info(
        "detections turned into alerts",
        extra={
            "wachter.detections": len(detections),
            "wachter.alerts_created": len(batch.created),
            "wachter.alerts_updated": len(batch.updated),
            "wachter.detections_suppressed": batch.suppressed,
        },
    )
    return len(detections)


def _locked_cursor(session: Session, now: datetime) -> IncidentsCursor:
    # FOR UPDATE on PostgreSQL; SQLite's write transactions are serial already.
    cursor = session.scalar(
        select(IncidentsCursor).where(IncidentsCursor.name == CURSOR_NAME).with_for_update()
    )
    if cursor is None:
        cursor = IncidentsCursor(name=CURSOR_NAME, position=0, updated_at=now)
        session.add(cursor)
        session.flush()
    return cursor


def _handle(batch: _Batch, detection: Detection) -> None:
    wanted = event_ids_of(detection)[:MAX_EVENTS_READ]
    documents = [batch.events[event_id] for event_id in wanted if event_id in batch.events]
    # A scheduled search's hit carries a copy of its cluster document instead.
    documents += [
        document.source
        for document in documents_of(detection)[:MAX_EVENTS_READ]
        if document.source is not None
    ]
    first = documents[0] if documents else None
    group = group_texts(group_of(detection)) if detection.group_values else None
    suppression = _suppressing(batch.suppressions, detection.rule_key, group, first)
    if suppression is not None:
        record_hit(
            batch.session,
            suppression.row,
            detection_id=detection.id,
            rule_key=detection.rule_key,
            now=batch.now,
        )
        batch.suppressed += 1
        return
    facts = batch.rules.of(detection)
    alert_fingerprint = fingerprint(
        detection.rule_key, group, None if group is not None else key_entity(first)
    )
    entities = entities_of(documents, group)
    alert = _open_alert(batch, alert_fingerprint, detection.detected_at - batch.dedup_window)
    if alert is None:
        alert = _new_alert(
            batch.session,
            detection,
            facts=facts,
            alert_fingerprint=alert_fingerprint,
            group=group,
            now=batch.now,
        )
        batch.created[alert.id] = alert
    else:
        _fold(batch, alert, detection)
    batch.by_fingerprint[alert_fingerprint] = alert
    _add_entities(batch.session, alert, entities)
    batch.session.add(
        AlertDetection(
            detection_id=detection.id, alert_id=alert.id, detected_at=detection.detected_at
        )
    )


def _event_documents(session: Session, detections: Sequence[Detection]) -> dict[int, Any]:
    """The first stored events of every detection of the batch, in one query.

    Retention may have purged some; a detection then has fewer (or no) documents.
    """
    wanted = {
        event_id
        for detection in detections
        for event_id in event_ids_of(detection)[:MAX_EVENTS_READ]
    }
    if not wanted:
        return {}
    documents: dict[int, Any] = {}
    ordered = sorted(wanted)
    for start in range(0, len(ordered), IDS_PER_QUERY):  # within SQLite's bound-value limit
        chunk = ordered[start : start + IDS_PER_QUERY]
        for event in session.scalars(select(Event).where(Event.id.in_(chunk))):
            data = event.data
            if isinstance(data, dict):
                documents[event.id] = data
    return documents


def _suppressing(
    suppressions: Sequence[ActiveSuppression],
    rule_key: str,
    group: Mapping[str, str] | None,
    first: Mapping[str, Any] | None,
) -> ActiveSuppression | None:
    def event_values(name: str) -> list[str]:
        return field_values(first, name) if first is not None else []

    for suppression in suppressions:
        if suppression.applies_to(rule_key) and all_hold(
            suppression.conditions, group or {}, event_values
        ):
            return suppression
    return None


def _open_alert(batch: _Batch, alert_fingerprint: str, seen_since: datetime) -> Alert | None:
    """The open alert with this fingerprint last seen at or after ``seen_since``."""
    known = batch.by_fingerprint.get(alert_fingerprint)
    if known is not None:  # the newest with this fingerprint: nothing else can be newer
        return known if known.last_seen >= seen_since else None
    # Without autoflush: what this batch added so far is not what the query looks for, and
    # every alert it changed is in ``by_fingerprint``.
    with batch.session.no_autoflush:
        return batch.session.scalar(
            select(Alert)
            .where(
                Alert.fingerprint == alert_fingerprint,
                Alert.status != AlertStatus.CLOSED.value,
                Alert.last_seen >= seen_since,
            )
            .order_by(Alert.last_seen.desc(), Alert.id.desc())
            .limit(1)
        )


def _new_alert(
    session: Session,
    detection: Detection,
    *,
    facts: RuleFacts,
    alert_fingerprint: str,
    group: Mapping[str, str] | None,
    now: datetime,
) -> Alert:
    alert = Alert(
        fingerprint=alert_fingerprint,
        rule_key=detection.rule_key,
        rule_version=detection.rule_version,
        title=facts.title,
        rule_level=facts.level,
        severity=severity_from_level(facts.level).value,
        status=AlertStatus.NEW.value,
        count=1,
        first_seen=detection.detected_at,
        last_seen=detection.detected_at,
        group_values=None if group is None else orjson.dumps(dict(group)).decode(),
        entities="[]",
        tags=orjson.dumps(list(facts.tags)).decode(),
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(alert)
    session.flush()
    return alert


def _fold(batch: _Batch, alert: Alert, detection: Detection) -> None:
    """A repeat: count it, and move last seen (first seen too, for a late one)."""
    if alert.id not in batch.created and alert.id not in batch.updated:
        alert.version += 1  # one new version (and feed entry) per batch
        batch.updated[alert.id] = alert
    alert.count += 1
    alert.last_seen = max(alert.last_seen, detection.detected_at)
    alert.first_seen = min(alert.first_seen, detection.detected_at)
    alert.updated_at = batch.now


def _add_entities(session: Session, alert: Alert, entities: Sequence[Entity]) -> None:
    known: list[list[str]] = orjson.loads(alert.entities)
    present = {(kind, value) for kind, value in known}
    added = False
    for kind, value in entities:
        if len(known) >= MAX_ENTITIES:
            break
        if (kind.value, value) in present:
            continue
        present.add((kind.value, value))
        known.append([kind.value, value])
        session.add(AlertEntity(alert_id=alert.id, kind=kind.value, value=value))
        added = True
    if added:
        alert.entities = orjson.dumps(known).decode()


def _finish(batch: _Batch) -> None:
    """Policies, one feed entry per alert made or changed, then the incidents to open."""
    to_open: list[tuple[Alert, AlertPolicy]] = []
    for alert in batch.created.values():
        matched = apply_policies(alert, orjson.loads(alert.tags), batch.policies)
        opener = next((policy for policy in matched if policy.open_incident), None)
        if opener is not None:
            to_open.append((alert, opener))
    for alert in batch.updated.values():
        apply_policies(alert, orjson.loads(alert.tags), batch.policies)
    for alert in batch.created.values():
        feed_changes.record_alert_change(batch.session, alert, change="created", now=batch.now)
    for alert in batch.updated.values():
        feed_changes.record_alert_change(batch.session, alert, change="updated", now=batch.now)
    for alert, policy in to_open:
        _open_incident(batch.session, alert, policy, batch.now)


def _open_incident(session: Session, alert: Alert, policy: AlertPolicy, now: datetime) -> None:
    # Imported here: the incident service marks alerts through incidents.alerts.service,
    # so importing it at the top would make the two packages import each other.
    from incidents.cases.service import open_incident_from_alerts  # noqa: PLC0415

    try:
        with session.begin_nested():  # a refusal undoes the incident, never the alerts
            open_incident_from_alerts(
                session,
                alert_ids=[alert.id],
                actor=Actor.system(),
                now=now,
                incident_type=policy.incident_type,
                title=None,
            )
    except DomainError:
        log.exception(
            "alert policy could not open an incident",
            extra={"wachter.alert": alert.id, "wachter.alert_policy": policy.id},
        )
