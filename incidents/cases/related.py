"""Entities of an incident, and what they link it to: other incidents and alerts.

An entity (IP address, account, host, e-mail address, phone number, case reference,
person pseudonym) is stored normalised (``incidents.entities.normalise``), so the same
address written two ways links the records it is in. ``related`` lists the incidents and
alerts that share at least one entity with the incident, with the entities they share.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session, load_only

from access_control import Actor
from core import InvalidInput
from core.i18n import N_
from incidents.alerts.models import Alert, AlertEntity
from incidents.cases.history import record_change
from incidents.cases.lookup import get_incident, writable_incident
from incidents.cases.models import Incident, IncidentAlert, IncidentEntity
from incidents.entities import EntityKind, normalise

MAX_RELATED: Final = 50
MAX_ENTITIES: Final = 500  # per incident: beyond that an incident links everything


def add_entity(
    session: Session, *, incident_id: int, kind: str, value: str, actor: Actor, now: datetime
) -> IncidentEntity:
    incident = writable_incident(session, incident_id)
    normalised = normalise(kind, value)
    existing = entities_of(session, incident.id)
    if any(entity.kind == kind and entity.value == normalised for entity in existing):
        raise InvalidInput(N_("The incident already has this entity."), field="value")
    if len(existing) >= MAX_ENTITIES:
        raise InvalidInput(
            N_("An incident has at most %(limit)d entities."), field="value", limit=MAX_ENTITIES
        )
    entity = IncidentEntity(
        incident_id=incident.id,
        origin_incident_id=incident.id,
        kind=EntityKind(kind).value,
        value=normalised,
        added_at=now,
        added_by=actor.name,
    )
    session.add(entity)
    session.flush()
    record_change(
        session,
        incident,
        action="entity_added",
        kind="entity_added",
        actor=actor,
        now=now,
        # The kind, never the value: an account name or e-mail address is personal data.
        details={"entity_id": entity.id, "kind": entity.kind},
    )
    return entity


def entities_of(session: Session, incident_id: int) -> list[IncidentEntity]:
    query = (
        select(IncidentEntity)
        .where(IncidentEntity.incident_id == incident_id)
        .order_by(IncidentEntity.kind, IncidentEntity.value)
    )
    return list(session.scalars(query))


@dataclass(frozen=True)
class RelatedIncident:
    incident: Incident
    shared: tuple[tuple[str, str], ...]  # (kind, value)


@dataclass(frozen=True)
class RelatedAlert:
    alert: Alert
    shared: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Related:
    incidents: list[RelatedIncident]
    alerts: list[RelatedAlert]


def related(session: Session, incident_id: int) -> Related:
    """Incidents (not itself, none merged away) and alerts (not its own) sharing an entity.

    Newest first, at most ``MAX_RELATED`` of each.
    """
    incident = get_incident(session, incident_id)
    pairs = [(entity.kind, entity.value) for entity in entities_of(session, incident.id)]
    if not pairs:
        return Related([], [])
    return Related(
        _related_incidents(session, incident, pairs), _related_alerts(session, incident, pairs)
    )


def _related_incidents(
    session: Session, incident: Incident, pairs: list[tuple[str, str]]
) -> list[RelatedIncident]:
    shares = tuple_(IncidentEntity.kind, IncidentEntity.value).in_(pairs)
    newest = session.scalars(
        select(IncidentEntity.incident_id)
        .join(Incident, Incident.id == IncidentEntity.incident_id)
        .where(shares, Incident.id != incident.id, Incident.merged_into_id.is_(None))
        .distinct()
        .order_by(IncidentEntity.incident_id.desc())
        .limit(MAX_RELATED)
    ).all()
    found = _shared(
        session.execute(
            select(IncidentEntity.incident_id, IncidentEntity.kind, IncidentEntity.value).where(
                shares, IncidentEntity.incident_id.in_(newest)
            )
        )
    )
    # Only what the list shows: up to fifty whole incidents cost more to load than the page.
    # The type is shown too (a staff-safety title's category is labelled by it): a column
    # left out here is loaded by one more query per incident when the page reads it.
    shown = load_only(
        Incident.id, Incident.reference, Incident.title, Incident.type, Incident.state
    )
    others = {
        other.id: other
        for other in session.scalars(select(Incident).where(Incident.id.in_(newest)).options(shown))
    }
    return [RelatedIncident(others[other_id], found[other_id]) for other_id in newest]


def _related_alerts(
    session: Session, incident: Incident, pairs: list[tuple[str, str]]
) -> list[RelatedAlert]:
    shares = tuple_(AlertEntity.kind, AlertEntity.value).in_(pairs)
    own = select(IncidentAlert.alert_id).where(IncidentAlert.incident_id == incident.id)
    newest = [
        alert_id
        for alert_id, _seen in session.execute(
            select(Alert.id, Alert.last_seen)
            .join(AlertEntity, AlertEntity.alert_id == Alert.id)
            .where(shares, Alert.id.not_in(own))
            .distinct()
            .order_by(Alert.last_seen.desc(), Alert.id.desc())
            .limit(MAX_RELATED)
        )
    ]
    found = _shared(
        session.execute(
            select(AlertEntity.alert_id, AlertEntity.kind, AlertEntity.value).where(
                shares, AlertEntity.alert_id.in_(newest)
            )
        )
    )
    shown = load_only(Alert.id, Alert.title, Alert.severity, Alert.status)
    alerts = {
        alert.id: alert
        for alert in session.scalars(select(Alert).where(Alert.id.in_(newest)).options(shown))
    }
    return [RelatedAlert(alerts[alert_id], found[alert_id]) for alert_id in newest]


def _shared(rows: Iterable[tuple[int, str, str]]) -> dict[int, tuple[tuple[str, str], ...]]:
    by_owner: dict[int, list[tuple[str, str]]] = {}
    for owner, kind, value in rows:
        by_owner.setdefault(owner, []).append((kind, value))
    return {owner: tuple(sorted(found)) for owner, found in by_owner.items()}
