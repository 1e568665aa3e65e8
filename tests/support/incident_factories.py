"""Rows for incidents tests, built with sensible defaults (raw rows, not via the services).

``make_detection`` stores a rule version and a detection pointing at it;
``make_alert`` and ``make_incident`` store an alert and an incident in their first state.
Services under test should be used to make anything whose making they are meant to prove.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from detection_rules.models import Detection, DetectionRule, DetectionRuleVersion
from incidents.alerts.models import Alert
from incidents.cases.models import Incident

_numbers = itertools.count(1)
SEEN = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def make_rule(session: Session, key: str = "rule-1", **overrides: Any) -> DetectionRule:
    existing = session.get(DetectionRule, key)
    if existing is not None:
        return existing
    values: dict[str, Any] = {
        "key": key,
        "name": None,
        "title": overrides.pop("title", f"Rule {key}"),
        "kind": "rule",
        "level": "high",
        "status": "test",
        "enabled": True,
        "current_version": 1,
        "origin": "imported",
        "created_at": SEEN,
        "updated_at": SEEN,
    }
    values.update(overrides)
    rule = DetectionRule(**values)
    session.add(rule)
    session.add(
        DetectionRuleVersion(
            rule_key=key,
            version=1,
            text=f"title: {values['title']}\n",
            sha256=hashlib.sha256(key.encode()).hexdigest(),
            source_path=None,
            created_at=SEEN,
            created_by="test",
        )
    )
    session.flush()
    return rule


def make_detection(
    session: Session,
    *,
    rule_key: str = "rule-1",
    level: str | None = "high",
    detected_at: datetime = SEEN,
    event_ids: list[int] | None = None,
    group: dict[str, Any] | None = None,
    title: str | None = None,
) -> Detection:
    rule = make_rule(session, rule_key, level=level)
    detection = Detection(
        rule_key=rule_key,
        rule_version=1,
        detected_at=detected_at,
        event_time=detected_at,
        event_ids=orjson.dumps(event_ids or []).decode(),
        group_values=None if group is None else orjson.dumps(group).decode(),
        explanation="[]",
        level=level,
        title=title or rule.title,
    )
    session.add(detection)
    session.flush()
    return detection


def make_alert(session: Session, **overrides: Any) -> Alert:
    number = next(_numbers)
    rule_key = overrides.pop("rule_key", "rule-1")
    make_rule(session, rule_key)
    values: dict[str, Any] = {
        "fingerprint": hashlib.sha256(f"alert-{number}".encode()).hexdigest(),
        "rule_key": rule_key,
        "rule_version": 1,
        "title": f"Alert {number}",
        "rule_level": "high",
        "severity": "high",
        "status": "new",
        "count": 1,
        "first_seen": SEEN,
        "last_seen": SEEN,
        "entities": "[]",
        "tags": "[]",
        "created_at": SEEN,
        "updated_at": SEEN,
        "version": 1,
    }
    values.update(overrides)
    alert = Alert(**values)
    session.add(alert)
    session.flush()
    return alert


def make_incident(session: Session, **overrides: Any) -> Incident:
    number = next(_numbers)
    values: dict[str, Any] = {
        "reference": f"INC-TEST-{number:05d}",
        "title": f"Incident {number}",
        "description": "",
        "type": "cyber",
        "severity": "high",
        "tlp": "amber",
        "state": "new",
        "created_at": SEEN,
        "created_by": "test",
        "updated_at": SEEN,
    }
    values.update(overrides)
    incident = Incident(**values)
    session.add(incident)
    session.flush()
    return incident


def rule_exists(session: Session, key: str) -> bool:
    return session.scalar(select(DetectionRule.key).where(DetectionRule.key == key)) is not None
