"""Detections, alerts and incidents for the console benchmark, made to look like real ones.

Alerts come from the rules of Wachter's own pack (installed first, as ``serve`` does): each
alert's detections name a stored rule version and point at real failed events of the store,
its fingerprint and entities are computed by ``incidents.alerts.fingerprint`` from those
events, its severity is the rule's level (a tenth raised, as a policy would). These rows go in
with bulk inserts (the raising job would take hours for 10,000 alerts spread over 30 days).

Incidents go through the real services (``open_incident_from_alerts``, ``transition``,
``add_comment``, ``update_task``, ``update_fields``), with times in the past: every incident
gets its playbook's tasks, its timeline, its audit entries and its notifications as in use.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import yaml
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from access_control import Actor
from access_control.models import User
from bench.console.events import Candidate
from detection_rules.models import DetectionRule, DetectionRuleVersion
from incidents.alerts.fingerprint import entities_of, fingerprint, key_entity
from incidents.alerts.models import Alert, AlertDetection, AlertEntity, AlertStatus, Severity
from incidents.cases import comments, tasks
from incidents.cases.alert_links import add_alerts_to_incident, open_incident_from_alerts
from incidents.cases.models import IncidentTask, IncidentType, TaskStatus
from incidents.cases.service import IncidentChanges, transition, update_fields
from incidents.cases.states import State, machine_for
from storage import Database

DETECTION_TABLE = "detection"
COMMENTS = (
    "Bron-IP geblokkeerd op de firewall; verder monitoren.",
    "Gebruiker gebeld: de inlogpogingen waren niet van hem. Wachtwoord gereset.",
    "Zelfde patroon als vorige week, zie gekoppelde alerts.",
    "Logs van de VPN-server opgevraagd bij beheer.",
    "Geen verdere activiteit gezien na het blokkeren.",
)


@dataclass(frozen=True)
class RuleInfo:
    key: str
    version: int
    title: str
    level: str
    tags: list[str]
    group_by: str | None  # a correlation's group-by field


def pack_rules(session: Session) -> list[RuleInfo]:
    """The pack's enabled rules with their current version, level, tags and group-by."""
    rows = session.execute(
        select(DetectionRule, DetectionRuleVersion.text)
        .join(
            DetectionRuleVersion,
            (DetectionRuleVersion.rule_key == DetectionRule.key)
            & (DetectionRuleVersion.version == DetectionRule.current_version),
        )
        .where(DetectionRule.enabled.is_(True))
        .order_by(DetectionRule.key)
    )
    found = []
    for rule, text in rows:
        document = next(iter(yaml.safe_load_all(text)), None) or {}
        correlation = document.get("correlation") or {}
        group = correlation.get("group-by") or [None]
        level = rule.level if rule.level in set(Severity) else "medium"
        found.append(
            RuleInfo(
                rule.key,
                rule.current_version,
                rule.title,
                level,
                list(document.get("tags") or []),
                group[0],
            )
        )
    return found


def add_alerts(
    database: Database,
    candidates: Sequence[Candidate],
    *,
    count: int,
    anchor: datetime,
    chooser: random.Random,
) -> None:
    """``count`` alerts of 1 to 4 detections each on ``candidates``, statuses by age."""
    with database.unit_of_work() as session:
        rules = pack_rules(session)
    detections: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    entities: list[dict[str, Any]] = []
    picks = sorted(chooser.sample(range(len(candidates)), count))
    for alert_id, pick in enumerate(picks, start=1):
        rule = chooser.choice(rules)
        events = [candidates[min(len(candidates) - 1, pick + n)] for n in range(_repeats(chooser))]
        alert = _alert(alert_id, rule, events, anchor=anchor, chooser=chooser)
        alerts.append(alert)
        for event in events:
            detection_id = len(detections) + 1
            detections.append(_detection(detection_id, rule, event))
            links.append(
                {"detection_id": detection_id, "alert_id": alert_id, "detected_at": _seen(event)}
            )
        for kind, value in orjson.loads(alert["entities"]):
            entities.append({"alert_id": alert_id, "kind": kind, "value": value})
    with database.unit_of_work() as session:
        table = DetectionRuleVersion.metadata.tables[DETECTION_TABLE]
        for start in range(0, len(detections), 5000):
            session.execute(insert(table), detections[start : start + 5000])
        session.execute(insert(Alert), alerts)
        session.execute(insert(AlertDetection), links)
        session.execute(insert(AlertEntity), entities)


def _repeats(chooser: random.Random) -> int:
    return chooser.choices((1, 2, 3, 4), (60, 25, 10, 5))[0]


def _seen(event: Candidate) -> datetime:
    return event.timestamp + timedelta(seconds=2)  # the detection engine's tick after arrival


def _alert(
    alert_id: int,
    rule: RuleInfo,
    events: list[Candidate],
    *,
    anchor: datetime,
    chooser: random.Random,
) -> dict[str, Any]:
    documents = [event.document for event in events]
    entity = key_entity(documents[0])
    group = None
    if rule.group_by and (value := _field(documents[0], rule.group_by)):
        group = {rule.group_by: value}
    severity = rule.level
    if chooser.random() < 0.1 and severity != Severity.CRITICAL:
        severity = list(Severity)[list(Severity).index(Severity(severity)) + 1].value
    first, last = _seen(events[0]), _seen(events[-1])
    age = anchor - last
    status, resolution, closed_at = AlertStatus.NEW.value, None, None
    roll = chooser.random()
    if (age > timedelta(days=2) and roll < 0.45) or roll < 0.1:
        status, closed_at = (
            AlertStatus.CLOSED.value,
            last + timedelta(hours=chooser.randrange(1, 30)),
        )
        resolution = chooser.choices(("false_positive", "benign", "true_positive"), (5, 3, 2))[0]
    elif roll < 0.5:
        status = AlertStatus.ACKNOWLEDGED.value
    acknowledged = status != AlertStatus.NEW.value
    return {
        "id": alert_id,
        "fingerprint": fingerprint(rule.key, group, entity),
        "rule_key": rule.key,
        "rule_version": rule.version,
        "title": rule.title,
        "rule_level": rule.level,
        "severity": severity,
        "status": status,
        "resolution": resolution,
        "resolution_note": "Bekend testaccount van beheer." if resolution == "benign" else None,
        "count": len(events),
        "first_seen": first,
        "last_seen": last,
        "group_values": orjson.dumps(group).decode() if group else None,
        "entities": orjson.dumps(entities_of(documents, group)).decode(),
        "tags": orjson.dumps(rule.tags).decode(),
        "incident_id": None,
        "created_at": first,
        "updated_at": closed_at or last,
        "acknowledged_at": last + timedelta(minutes=20) if acknowledged else None,
        "acknowledged_by": "bench-officier-1" if acknowledged else None,
        "closed_at": closed_at,
        "closed_by": "bench-officier-2" if closed_at else None,
        "version": 1 + acknowledged + (closed_at is not None),
    }


def _field(document: dict[str, Any], dotted: str) -> str | None:
    value: Any = document
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return str(value) if isinstance(value, str | int) else None


def _detection(detection_id: int, rule: RuleInfo, event: Candidate) -> dict[str, Any]:
    outcome = event.document.get("event", {}).get("outcome")
    explanation = [
        {
            "selection": "selection",
            "fields": [
                {"field": "event.outcome", "pattern": "failure", "value": outcome},
                {"field": "event.dataset", "pattern": event.dataset, "value": event.dataset},
            ],
        },
    ]
    if rule.group_by:
        group = _field(event.document, rule.group_by)
        explanation = {"correlation": {"type": "event_count", "group": {rule.group_by: group}}}  # type: ignore[assignment]
    return {
        "id": detection_id,
        "rule_key": rule.key,
        "rule_version": rule.version,
        "detected_at": _seen(event),
        "event_time": event.timestamp,
        "event_ids": orjson.dumps([event.event_id]).decode(),
        "documents": None,
        "group_values": None,
        "explanation": orjson.dumps(explanation).decode(),
        "level": rule.level,
        "title": rule.title,
    }


def add_incidents(
    database: Database,
    *,
    count: int,
    anchor: datetime,
    chooser: random.Random,
    analysts: Sequence[User],
    progress: Callable[[int], None],
) -> None:
    """``count`` incidents from open alerts, walked along their machine to a state by age."""
    with database.unit_of_work() as session:
        free = list(
            session.scalars(
                select(Alert.id)
                .where(Alert.status != AlertStatus.CLOSED.value)
                .order_by(Alert.last_seen)
            )
        )
        seen = dict(session.execute(select(Alert.id, Alert.last_seen)).tuples().all())
    groups = _alert_groups(free, count, chooser)
    for number, alert_ids in enumerate(groups, start=1):
        analyst = chooser.choice(analysts)
        actor = Actor(name=analyst.username, user_id=analyst.id)
        with database.unit_of_work() as session:
            _one_incident(
                session,
                alert_ids,
                actor=actor,
                opened=seen[alert_ids[0]] + timedelta(minutes=15),
                anchor=anchor,
                chooser=chooser,
                analyst=analyst,
            )
        if number % 100 == 0:
            progress(number)
    with database.unit_of_work() as session:  # an incident's alerts are no longer "new"
        session.execute(
            update(Alert)
            .where(Alert.incident_id.is_not(None), Alert.acknowledged_at.is_(None))
            .values(acknowledged_at=Alert.updated_at, acknowledged_by="bench-officier-1")
        )


def _alert_groups(free: list[int], count: int, chooser: random.Random) -> list[list[int]]:
    """``count`` groups of 1 to 3 alerts (neighbours in time), spread over the free alerts."""
    if len(free) < count:
        raise SystemExit(f"only {len(free)} open alerts for {count} incidents: add alerts")
    starts = sorted(chooser.sample(range(len(free)), count))
    groups, taken = [], set()
    for start in starts:
        size = chooser.choices((1, 2, 3), (60, 28, 12))[0]
        group = [
            free[i] for i in range(start, min(len(free), start + size)) if free[i] not in taken
        ]
        if not group:
            group = [next(alert_id for alert_id in free if alert_id not in taken)]
        taken.update(group)
        groups.append(group)
    return groups


def _one_incident(
    session: Session,
    alert_ids: list[int],
    *,
    actor: Actor,
    opened: datetime,
    anchor: datetime,
    chooser: random.Random,
    analyst: User,
) -> None:
    kind = IncidentType.CYBER if chooser.random() < 0.85 else IncidentType.PHYSICAL
    now = min(opened, anchor - timedelta(minutes=5))
    merged = alert_ids[1:] if len(alert_ids) > 1 and chooser.random() < 0.3 else []
    first = [alert_id for alert_id in alert_ids if alert_id not in merged]
    incident = open_incident_from_alerts(
        session, alert_ids=first, actor=actor, now=now, incident_type=kind.value
    )
    if merged:
        now += timedelta(minutes=chooser.randrange(5, 90))
        add_alerts_to_incident(
            session, incident_id=incident.id, alert_ids=merged, actor=actor, now=now
        )
    changes = IncidentChanges(
        title=incident.title,
        description="Geopend vanuit de alertqueue.",
        severity=incident.severity,
        tlp=incident.tlp,
        assignee_id=analyst.id,
        reviewer_id=None,
    )
    update_fields(session, incident.id, changes, actor=actor, now=now)
    machine = machine_for(kind.value)
    for state in _walk(machine.states, anchor - now, chooser):
        now = min(
            now + timedelta(minutes=chooser.randrange(10, 600)), anchor - timedelta(minutes=1)
        )
        closing = state == State.CLOSED
        if closing:
            _finish_tasks(session, incident.id, actor=actor, now=now)
        resolution = chooser.choice(machine.resolutions_from(incident.state)) if closing else None
        transition(
            session,
            incident.id,
            state.value,
            actor=actor,
            now=now,
            resolution=resolution.value if resolution else None,
            summary="Afgehandeld; zie tijdlijn." if closing else None,
        )
    for _ in range(chooser.choices((0, 1, 2, 4), (30, 35, 25, 10))[0]):
        now = min(now + timedelta(minutes=chooser.randrange(5, 120)), anchor)
        comments.add_comment(
            session, incident_id=incident.id, body=chooser.choice(COMMENTS), actor=actor, now=now
        )


def _walk(states: Sequence[State], age: timedelta, chooser: random.Random) -> Sequence[State]:
    """The states an incident of ``age`` went through after its first: most old ones closed
    (a quarter of those as a false alarm straight from triage), young ones anywhere."""
    if age > timedelta(days=7) and chooser.random() < 0.85:
        if chooser.random() < 0.25:
            return (State.TRIAGE, State.CLOSED)
        return states[1:]
    return states[1 : chooser.randrange(1, len(states) + 1)]


def _finish_tasks(session: Session, incident_id: int, *, actor: Actor, now: datetime) -> None:
    open_tasks = session.scalars(
        select(IncidentTask).where(
            IncidentTask.incident_id == incident_id,
            IncidentTask.status == TaskStatus.OPEN.value,
        )
    ).all()
    for task in open_tasks:
        tasks.update_task(
            session,
            incident_id=incident_id,
            task_id=task.id,
            status=TaskStatus.DONE.value,
            assignee_id=task.assignee_id,
            due_at=task.due_at,
            actor=actor,
            now=now,
        )
