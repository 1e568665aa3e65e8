"""Suppressions: hold back detections that meet conditions, for a while, for a reason.

A suppression has an owner (who answers for it), a reason, conditions
(``incidents.alerts.conditions``) and an expiry at most ``MAX_DAYS`` ahead: a suppression
that is forgotten ends by itself. It may be limited to one rule. A detection it holds
back becomes no alert but a ``SuppressedHit``, and the suppression's hit count and last
hit rise: what is suppressed stays countable and visible, never silently dropped.
Making and revoking one is audited; it can blind detection, so the console asks for a
fresh step-up to make one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import Actor, record_audit
from core import Conflict, InvalidInput, NotFound
from core.i18n import N_
from incidents.alerts.conditions import Condition, dump_conditions, load_conditions
from incidents.alerts.models import SuppressedHit, Suppression
from incidents.alerts.rules import known_rule_key

log = logging.getLogger("wachter.incidents")
MAX_DAYS = 90
MAX_OWNER_LENGTH = 200
MAX_REASON_LENGTH = 2000
LATEST_HITS = 20


@dataclass(frozen=True)
class ActiveSuppression:
    """A suppression in force, with its conditions read once for a batch of detections."""

    row: Suppression
    conditions: tuple[Condition, ...]

    def applies_to(self, rule_key: str) -> bool:
        return self.row.rule_key is None or self.row.rule_key == rule_key


def create_suppression(
    session: Session,
    *,
    conditions: Sequence[Condition],
    owner: str,
    reason: str,
    expires_at: datetime,
    rule_key: str | None,
    actor: Actor,
    now: datetime,
) -> Suppression:
    """A new suppression; conditions come validated (``conditions_from``/``parse_…``)."""
    owner, reason = _owner(owner), _reason(reason)
    _check_expiry(expires_at, now)
    rule_key = known_rule_key(session, rule_key)
    if not conditions:
        raise InvalidInput(N_("A suppression needs at least one condition."), field="conditions")
    suppression = Suppression(
        rule_key=rule_key,
        conditions=dump_conditions(conditions),
        owner=owner,
        reason=reason,
        created_at=now,
        created_by=actor.name,
        expires_at=expires_at,
        hits=0,
    )
    session.add(suppression)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="suppression.created",
        target=f"suppression:{suppression.id}",
        outcome="success",
        now=now,
        details={
            "rule": rule_key,
            "conditions": len(conditions),
            "expires_at": expires_at.isoformat(),
        },
    )
    return suppression


def revoke_suppression(
    session: Session, suppression_id: int, *, actor: Actor, now: datetime
) -> Suppression:
    suppression = get_suppression(session, suppression_id)
    if suppression.revoked_at is not None:
        raise Conflict(N_("Suppression %(id)s is already revoked."), id=suppression_id)
    suppression.revoked_at, suppression.revoked_by = now, actor.name
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="suppression.revoked",
        target=f"suppression:{suppression.id}",
        outcome="success",
        now=now,
        details={"hits": suppression.hits},
    )
    return suppression


def get_suppression(session: Session, suppression_id: int) -> Suppression:
    suppression = session.get(Suppression, suppression_id)
    if suppression is None:
        raise NotFound(N_("There is no suppression %(id)s."), id=suppression_id)
    return suppression


def list_suppressions(session: Session) -> list[Suppression]:
    """Every suppression, newest first (revoked and expired ones too: they explain hits)."""
    query = select(Suppression).order_by(Suppression.created_at.desc(), Suppression.id.desc())
    return list(session.scalars(query))


def is_active(suppression: Suppression, now: datetime) -> bool:
    return suppression.revoked_at is None and suppression.expires_at > now


def active_suppressions(session: Session, now: datetime) -> list[ActiveSuppression]:
    """Suppressions in force now, oldest first; one whose stored conditions no longer
    validate is left out (and logged): it then holds nothing back, it never blinds more."""
    query = (
        select(Suppression)
        .where(Suppression.revoked_at.is_(None), Suppression.expires_at > now)
        .order_by(Suppression.id)
    )
    active: list[ActiveSuppression] = []
    for row in session.scalars(query):
        try:
            active.append(ActiveSuppression(row, load_conditions(row.conditions)))
        except InvalidInput:
            log.error("suppression conditions unreadable", extra={"wachter.suppression": row.id})
    return active


def record_hit(
    session: Session, suppression: Suppression, *, detection_id: int, rule_key: str, now: datetime
) -> SuppressedHit:
    hit = SuppressedHit(
        detection_id=detection_id,
        suppression_id=suppression.id,
        rule_key=rule_key,
        suppressed_at=now,
    )
    session.add(hit)
    suppression.hits = (suppression.hits or 0) + 1
    suppression.last_hit_at = now
    return hit


def latest_hits(
    session: Session, suppression_ids: Sequence[int], *, limit: int = LATEST_HITS
) -> dict[int, list[SuppressedHit]]:
    """The latest ``limit`` hits of each suppression, newest first."""
    found: dict[int, list[SuppressedHit]] = {}
    for suppression_id in suppression_ids:
        query = (
            select(SuppressedHit)
            .where(SuppressedHit.suppression_id == suppression_id)
            .order_by(SuppressedHit.suppressed_at.desc(), SuppressedHit.detection_id.desc())
            .limit(limit)
        )
        found[suppression_id] = list(session.scalars(query))
    return found


def _check_expiry(expires_at: datetime, now: datetime) -> None:
    if expires_at.utcoffset() is None:
        raise InvalidInput(N_("An expiry needs a time zone."), field="expires")
    if expires_at <= now:
        raise InvalidInput(N_("A suppression must expire in the future."), field="expires")
    if expires_at > now + timedelta(days=MAX_DAYS):
        raise InvalidInput(
            N_("A suppression expires at most %(days)d days ahead."), field="expires", days=MAX_DAYS
        )


def _owner(text: str) -> str:
    value = text.strip()
    if not value or len(value) > MAX_OWNER_LENGTH:
        raise InvalidInput(
            N_("Name an owner who answers for the suppression: 1 to %(limit)d characters."),
            field="owner",
            limit=MAX_OWNER_LENGTH,
        )
    return value


def _reason(text: str) -> str:
    value = text.strip()
    if not value or len(value) > MAX_REASON_LENGTH:
        raise InvalidInput(
            N_("Give a reason of 1 to %(limit)d characters."),
            field="reason",
            limit=MAX_REASON_LENGTH,
        )
    return value
