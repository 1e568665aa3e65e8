"""The registry's rules: finding them, their versions, switching them on and off, and what
the streaming engine loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from access_control import Actor, record_audit
from core import NotFound
from core.i18n import N_
from detection_rules.models import DetectionRule, DetectionRuleVersion, RuleKind
from detection_rules.service.imports import referenced_names


@dataclass(frozen=True)
class RuleText:
    """A rule as the streaming engine loads it; ``enabled`` is false for a base rule that
    is loaded only because an enabled correlation refers to it (it raises no alert itself).
    """

    key: str
    version: int
    kind: RuleKind
    text: str
    enabled: bool


def list_rules(
    session: Session,
    *,
    enabled: bool | None = None,
    kind: RuleKind | None = None,
    search: str | None = None,
    limit: int | None = None,
) -> list[DetectionRule]:
    """Rules by title; ``search`` finds text in the key, name or title (any case)."""
    query = select(DetectionRule).order_by(DetectionRule.title, DetectionRule.key)
    if enabled is not None:
        query = query.where(DetectionRule.enabled == enabled)
    if kind is not None:
        query = query.where(DetectionRule.kind == kind)
    if search:
        needle = search.lower()
        query = query.where(
            or_(
                *(
                    func.lower(column).contains(needle, autoescape=True)
                    for column in (DetectionRule.key, DetectionRule.name, DetectionRule.title)
                )
            )
        )
    return list(session.scalars(query.limit(limit)))


def find_rule(session: Session, key: str) -> DetectionRule | None:
    """The rule with this key, else the one with this Sigma name, else ``None``."""
    rule = session.get(DetectionRule, key)
    if rule is not None:
        return rule
    named = session.scalars(select(DetectionRule).where(DetectionRule.name == key)).all()
    return named[0] if len(named) == 1 else None


def get_rule(session: Session, key: str) -> DetectionRule:
    rule = find_rule(session, key)
    if rule is None:
        raise NotFound(N_("There is no detection rule %(key)s."), key=key[:300])
    return rule


def rule_versions(session: Session, key: str) -> list[DetectionRuleVersion]:
    """Every version of rule ``key``, oldest first."""
    rule = get_rule(session, key)
    return list(
        session.scalars(
            select(DetectionRuleVersion)
            .where(DetectionRuleVersion.rule_key == rule.key)
            .order_by(DetectionRuleVersion.version)
        )
    )


def get_rule_version(
    session: Session, key: str, version: int | None = None
) -> DetectionRuleVersion:
    """Version ``version`` of rule ``key`` (default: the current one)."""
    rule = get_rule(session, key)
    wanted = rule.current_version if version is None else version
    found = session.scalars(
        select(DetectionRuleVersion).where(
            DetectionRuleVersion.rule_key == rule.key, DetectionRuleVersion.version == wanted
        )
    ).one_or_none()
    if found is None:
        raise NotFound(
            N_("Detection rule %(key)s has no version %(version)s."), key=rule.key, version=wanted
        )
    return found


def enable_rule(session: Session, key: str, *, actor: Actor, now: datetime) -> DetectionRule:
    """Switch rule ``key`` on (nothing changes, nothing is recorded, when it already is)."""
    return _switch(session, key, enabled=True, actor=actor, now=now)


def disable_rule(session: Session, key: str, *, actor: Actor, now: datetime) -> DetectionRule:
    """Switch rule ``key`` off; its versions and detections stay."""
    return _switch(session, key, enabled=False, actor=actor, now=now)


def _switch(
    session: Session, key: str, *, enabled: bool, actor: Actor, now: datetime
) -> DetectionRule:
    rule = get_rule(session, key)
    if rule.enabled == enabled:
        return rule
    rule.enabled = enabled
    rule.updated_at = now
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="detection_rule.enabled" if enabled else "detection_rule.disabled",
        target=f"detection_rule:{rule.key}",
        outcome="success",
        now=now,
        details={"version": rule.current_version},
    )
    return rule


def enabled_rule_texts(session: Session) -> list[RuleText]:
    """The current text of every enabled rule, and of the disabled rules enabled
    correlations refer to (directly or through other correlations), enabled ones first.
    """
    rows = session.execute(
        select(DetectionRule, DetectionRuleVersion.text)
        .join(DetectionRuleVersion, DetectionRuleVersion.rule_key == DetectionRule.key)
        .where(DetectionRuleVersion.version == DetectionRule.current_version)
        .order_by(DetectionRule.key)
    ).all()
    by_reference: dict[str, tuple[DetectionRule, str]] = {}
    for rule, text in rows:
        by_reference[rule.key] = (rule, text)
        if rule.name:
            by_reference.setdefault(rule.name, (rule, text))
    loaded = {rule.key: (rule, text, True) for rule, text in rows if rule.enabled}
    pending = [text for rule, text, _ in loaded.values() if rule.kind == RuleKind.CORRELATION]
    while pending:
        for reference in _references_in(pending.pop()):
            found = by_reference.get(reference)
            if found is None or found[0].key in loaded:
                continue
            rule, text = found
            loaded[rule.key] = (rule, text, False)
            if rule.kind == RuleKind.CORRELATION:
                pending.append(text)
    texts = [
        RuleText(rule.key, rule.current_version, RuleKind(rule.kind), text, enabled)
        for rule, text, enabled in loaded.values()
    ]
    return sorted(texts, key=lambda item: (not item.enabled, item.key))


def _references_in(text: str) -> list[str]:
    try:
        rules = SigmaCollection.from_yaml(text, resolve_references=False).rules
    except (SigmaError, ValueError):
        return []
    return [
        name
        for rule in rules
        if isinstance(rule, SigmaCorrelationRule)
        for name in referenced_names(rule)
    ]
