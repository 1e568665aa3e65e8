"""Alerts becoming incidents: escalating alerts into a new incident, adding them to one.

An alert is in at most one incident. Escalating marks it ``escalated``, adding it to an
existing incident marks it ``merged`` (both through the alert service, which bumps the
alert's version, writes its feed entry and audits it, so the SOC sees where it went). The alerts'
entities are copied onto the incident, which is what links it to related incidents.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import Actor
from core import Conflict, InvalidInput, NotFound
from core.i18n import N_
from incidents.alerts.models import Alert, AlertEntity, AlertStatus
from incidents.alerts.service import mark_in_incident
from incidents.cases.creation import create_incident, highest_severity
from incidents.cases.history import record_change
from incidents.cases.lookup import writable_incident
from incidents.cases.models import Incident, IncidentAlert, IncidentEntity, IncidentType
from incidents.entities import normalise
from incidents.notifications.outbox import NotificationKind, enqueue

MAX_ALERTS: Final = 500


def open_incident_from_alerts(
    session: Session,
    *,
    alert_ids: Sequence[int],
    actor: Actor,
    now: datetime,
    incident_type: str = IncidentType.CYBER,
    title: str | None = None,
) -> Incident:
    """A new incident for the alerts: titled after the first, as severe as the worst."""
    alerts = _alerts_to_add(session, alert_ids)
    incident = create_incident(
        session,
        title=title or alerts[0].title[:300],
        incident_type=incident_type,
        severity=highest_severity([alert.severity for alert in alerts]),
        actor=actor,
        now=now,
    )
    _link(session, incident, alerts, status=AlertStatus.ESCALATED, actor=actor, now=now)
    enqueue(
        session,
        kind=NotificationKind.ESCALATION,
        incident_id=incident.id,
        user_ids=[incident.assignee_id] if incident.assignee_id is not None else [],
        payload={"reference": incident.reference, "title": incident.title},
        now=now,
    )
    return incident


def add_alerts_to_incident(
    session: Session,
    *,
    incident_id: int,
    alert_ids: Sequence[int],
    actor: Actor,
    now: datetime,
) -> Incident:
    """Add alerts to an existing incident (they become ``merged``)."""
    incident = writable_incident(session, incident_id)
    alerts = _alerts_to_add(session, alert_ids)
    _link(session, incident, alerts, status=AlertStatus.MERGED, actor=actor, now=now)
    return incident


def alerts_of(session: Session, incident_id: int) -> list[Alert]:
    """The incident's alerts, most recently seen first."""
    query = (
        select(Alert)
        .join(IncidentAlert, IncidentAlert.alert_id == Alert.id)
        .where(IncidentAlert.incident_id == incident_id)
        .order_by(Alert.last_seen.desc(), Alert.id.desc())
    )
    return list(session.scalars(query))


def _alerts_to_add(session: Session, alert_ids: Sequence[int]) -> list[Alert]:
    wanted = list(dict.fromkeys(alert_ids))  # in the order given, each once
    if not wanted:
        raise InvalidInput(N_("Choose at least one alert."), field="alert_ids")
    if len(wanted) > MAX_ALERTS:
        raise InvalidInput(
            N_("Choose at most %(limit)d alerts at a time."), field="alert_ids", limit=MAX_ALERTS
        )
    found = {
        alert.id: alert for alert in session.scalars(select(Alert).where(Alert.id.in_(wanted)))
    }
    alerts = []
    for alert_id in wanted:
        alert = found.get(alert_id)
        if alert is None:
            raise NotFound(N_("There is no alert %(id)s."), id=alert_id)
        _check_free(session, alert)
        alerts.append(alert)
    return alerts


def _check_free(session: Session, alert: Alert) -> None:
    linked = session.get(IncidentAlert, alert.id)
    if linked is not None or alert.incident_id is not None:
        incident = session.get(Incident, linked.incident_id if linked else alert.incident_id)
        raise Conflict(
            N_("Alert %(id)s is already in incident %(reference)s."),
            id=alert.id,
            reference=incident.reference if incident is not None else "?",
        )
    if alert.status == AlertStatus.CLOSED:
        raise Conflict(N_("Alert %(id)s is closed; it cannot go into an incident."), id=alert.id)


def _link(
    session: Session,
    incident: Incident,
    alerts: list[Alert],
    *,
    status: AlertStatus,
    actor: Actor,
    now: datetime,
) -> None:
    for alert in alerts:
        session.add(
            IncidentAlert(
                alert_id=alert.id,
                incident_id=incident.id,
                origin_incident_id=incident.id,
                added_at=now,
                added_by=actor.name,
            )
        )
        mark_in_incident(session, alert, incident.id, status.value, actor, now)
    copied = copy_alert_entities(session, incident, [alert.id for alert in alerts], actor, now)
    record_change(
        session,
        incident,
        action="alerts_added",
        kind="alert_added",
        actor=actor,
        now=now,
        details={
            "alerts": ",".join(str(alert.id) for alert in alerts),
            "count": len(alerts),
            "entities_added": copied,
        },
    )


def copy_alert_entities(
    session: Session, incident: Incident, alert_ids: list[int], actor: Actor, now: datetime
) -> int:
    """Put the alerts' entities on the incident (each once); returns how many were new."""
    known: set[tuple[str, str]] = {
        (kind, value)
        for kind, value in session.execute(
            select(IncidentEntity.kind, IncidentEntity.value).where(
                IncidentEntity.incident_id == incident.id
            )
        )
    }
    rows = session.execute(
        select(AlertEntity.kind, AlertEntity.value)
        .where(AlertEntity.alert_id.in_(alert_ids))
        .order_by(AlertEntity.id)
    )
    added = 0
    for kind, value in rows:
        try:
            entity = (kind, normalise(kind, value))
        except InvalidInput:
            continue  # not an entity of a known shape: the alert keeps it, the incident not
        if entity in known:
            continue
        known.add(entity)
        session.add(
            IncidentEntity(
                incident_id=incident.id,
                origin_incident_id=incident.id,
                kind=entity[0],
                value=entity[1],
                added_at=now,
                added_by=actor.name,
            )
        )
        added += 1
    session.flush()
    return added
