"""Alert policies: raise the severity of matching alerts, and open incidents for them.

A policy matches an alert by rule (``rule_key``), by a tag of the rule (``attack.t1110``,
any case) and by a least severity; a left-out criterion matches everything. A matching
policy raises the alert's severity to ``raise_to`` (never lowers it) and, with
``open_incident``, has an incident opened for each new alert it matches ("every critical
alert becomes an incident"). Enabled policies apply in the order they were made, each
to the severity the ones before it left, when an alert is made and when a repeat
updates it. Making and switching off a policy is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import Actor, record_audit
from core import Conflict, InvalidInput, NotFound
from core.i18n import N_
from incidents.alerts.models import Alert, AlertPolicy
from incidents.alerts.rules import known_rule_key
from incidents.alerts.severity import higher, is_severity, rank
from incidents.cases.models import IncidentType

MAX_NAME_LENGTH = 200
MAX_TAG_LENGTH = 200


def create_policy(
    session: Session,
    *,
    name: str,
    rule_key: str | None = None,
    tag: str | None = None,
    min_severity: str | None = None,
    raise_to: str | None = None,
    open_incident: bool = False,
    incident_type: str = IncidentType.CYBER.value,
    actor: Actor,
    now: datetime,
) -> AlertPolicy:
    name = _name(session, name)
    policy = AlertPolicy(
        name=name,
        rule_key=known_rule_key(session, rule_key),
        tag=_tag(tag),
        min_severity=_severity(min_severity, "min_severity"),
        raise_to=_severity(raise_to, "raise_to"),
        open_incident=open_incident,
        incident_type=_incident_type(incident_type),
        enabled=True,
        created_at=now,
        created_by=actor.name,
    )
    if policy.raise_to is None and not policy.open_incident:
        raise InvalidInput(
            N_("A policy must raise the severity, open an incident, or both."), field="raise_to"
        )
    session.add(policy)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="alert_policy.created",
        target=f"alert_policy:{policy.id}",
        outcome="success",
        now=now,
        details={
            "rule": policy.rule_key,
            "tag": policy.tag,
            "min_severity": policy.min_severity,
            "raise_to": policy.raise_to,
            "open_incident": policy.open_incident,
        },
    )
    return policy


def disable_policy(session: Session, policy_id: int, *, actor: Actor, now: datetime) -> AlertPolicy:
    policy = session.get(AlertPolicy, policy_id)
    if policy is None:
        raise NotFound(N_("There is no alert policy %(id)s."), id=policy_id)
    if not policy.enabled:
        raise Conflict(N_("The policy \u201c%(name)s\u201d is already off."), name=policy.name)
    policy.enabled = False
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="alert_policy.disabled",
        target=f"alert_policy:{policy.id}",
        outcome="success",
        now=now,
    )
    return policy


def list_policies(session: Session, *, enabled_only: bool = False) -> list[AlertPolicy]:
    """Policies in the order they apply (the order they were made)."""
    query = select(AlertPolicy).order_by(AlertPolicy.id)
    if enabled_only:
        query = query.where(AlertPolicy.enabled)
    return list(session.scalars(query))


def matches(policy: AlertPolicy, *, rule_key: str, tags: Sequence[str], severity: str) -> bool:
    if policy.rule_key is not None and policy.rule_key != rule_key:
        return False
    if policy.tag is not None and policy.tag.casefold() not in {t.casefold() for t in tags}:
        return False
    return policy.min_severity is None or rank(severity) >= rank(policy.min_severity)


def apply_policies(
    alert: Alert, tags: Sequence[str], policies: Sequence[AlertPolicy]
) -> list[AlertPolicy]:
    """Raise ``alert.severity`` as the matching policies say; returns those that matched."""
    matched: list[AlertPolicy] = []
    for policy in policies:
        if not matches(policy, rule_key=alert.rule_key, tags=tags, severity=alert.severity):
            continue
        matched.append(policy)
        if policy.raise_to is not None:
            alert.severity = higher(alert.severity, policy.raise_to)
    return matched


def _name(session: Session, name: str) -> str:
    text = name.strip()
    if not text or len(text) > MAX_NAME_LENGTH:
        raise InvalidInput(
            N_("A policy needs a name of 1 to %(limit)d characters."),
            field="name",
            limit=MAX_NAME_LENGTH,
        )
    if session.scalar(select(AlertPolicy.id).where(AlertPolicy.name == text)) is not None:
        raise InvalidInput(
            N_("There is already a policy named \u201c%(name)s\u201d."), field="name", name=text
        )
    return text


def _tag(tag: str | None) -> str | None:
    text = (tag or "").strip()
    if len(text) > MAX_TAG_LENGTH:
        raise InvalidInput(
            N_("A tag is at most %(limit)d characters."), field="tag", limit=MAX_TAG_LENGTH
        )
    return text or None


def _severity(value: str | None, field: str) -> str | None:
    text = (value or "").strip()
    if text and not is_severity(text):
        raise InvalidInput(N_("Choose a severity from the list."), field=field)
    return text or None


def _incident_type(value: str) -> str:
    if value not in {kind.value for kind in IncidentType}:
        raise InvalidInput(N_("Choose an incident type from the list."), field="incident_type")
    return value
