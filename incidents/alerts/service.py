"""What people do with alerts: acknowledge and close them, one or many at a time, and
what the incident service does to them (escalate into a new incident, merge into one).

Statuses: ``new`` → ``acknowledged`` → ``closed``; ``escalated`` and ``merged`` are set by
the incident service through ``mark_in_incident``; any open alert may be closed with a
resolution (true positive, false positive, benign), and a false positive or benign
closing needs a note saying why: that feedback is what tunes the rules. A closed alert
takes no more actions; a repeat of it makes a new alert. Every change raises the alert's
version, writes one feed entry (change ``status``) and one audit entry with the actor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import Actor, record_audit
from core import Conflict, InvalidInput, NotFound
from core.i18n import N_
from incidents.alerts.models import Alert, AlertStatus, Resolution
from incidents.feeds import changes as feed_changes

# feeds.changes as a module, not its function: incidents.feeds imports these alerts while
# it loads, so the function may not be defined yet when this module is imported.
MAX_NOTE_LENGTH = 4000
MAX_BULK = 200
IN_INCIDENT = frozenset({AlertStatus.ESCALATED.value, AlertStatus.MERGED.value})
NEEDS_NOTE = frozenset({Resolution.FALSE_POSITIVE.value, Resolution.BENIGN.value})


@dataclass(frozen=True)
class BulkOutcome:
    """Which alerts a bulk action changed, and which it passed over (their status did not
    allow it: already acknowledged, already closed, …)."""

    changed: tuple[int, ...]
    skipped: tuple[int, ...]


def get_alert(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(N_("There is no alert %(id)s."), id=alert_id)
    return alert


def acknowledge(session: Session, alert_id: int, *, actor: Actor, now: datetime) -> Alert:
    """Someone is looking at it: ``new`` → ``acknowledged``."""
    alert = get_alert(session, alert_id)
    _check_acknowledge(alert)
    _acknowledge(session, alert, actor, now)
    return alert


def close(
    session: Session,
    alert_id: int,
    *,
    resolution: str,
    note: str | None,
    actor: Actor,
    now: datetime,
) -> Alert:
    """Close with a resolution; false positive and benign need a note."""
    resolution, note = check_resolution(resolution, note)
    alert = get_alert(session, alert_id)
    _check_close(alert)
    _close(session, alert, resolution=resolution, note=note, actor=actor, now=now)
    return alert


def bulk_acknowledge(
    session: Session, alert_ids: Sequence[int], *, actor: Actor, now: datetime
) -> BulkOutcome:
    return _bulk(
        session,
        alert_ids,
        check=_check_acknowledge,
        change=lambda alert: _acknowledge(session, alert, actor, now),
    )


def bulk_close(
    session: Session,
    alert_ids: Sequence[int],
    *,
    resolution: str,
    note: str | None,
    actor: Actor,
    now: datetime,
) -> BulkOutcome:
    resolution, note = check_resolution(resolution, note)
    return _bulk(
        session,
        alert_ids,
        check=_check_close,
        change=lambda alert: _close(
            session, alert, resolution=resolution, note=note, actor=actor, now=now
        ),
    )


def mark_in_incident(  # noqa: PLR0917 - positional, as the incident service calls it
    session: Session, alert: Alert, incident_id: int, status: str, actor: Actor, now: datetime
) -> Alert:
    """For the incident service: the alert is now in ``incident_id`` (``escalated``: an
    incident was opened from it; ``merged``: it was added to an existing one)."""
    if status not in IN_INCIDENT:
        raise ValueError(f"an alert joins an incident as escalated or merged, not {status!r}")
    if alert.status == AlertStatus.CLOSED.value:
        raise Conflict(
            N_("Alert %(id)s is closed: a closed alert cannot join an incident."), id=alert.id
        )
    alert.incident_id, alert.status = incident_id, AlertStatus(status).value
    _changed(session, alert, now)
    record_audit(
        session,
        actor=actor,
        action=f"alert.{status}",
        target=f"alert:{alert.id}",
        outcome="success",
        now=now,
        details={"incident": incident_id},
    )
    return alert


def check_resolution(resolution: str, note: str | None) -> tuple[str, str | None]:
    """The resolution and note as they will be stored, or ``InvalidInput`` saying why not."""
    if resolution not in {member.value for member in Resolution}:
        raise InvalidInput(N_("Choose a resolution from the list."), field="resolution")
    text = (note or "").strip()
    if len(text) > MAX_NOTE_LENGTH:
        raise InvalidInput(
            N_("A note is at most %(limit)d characters."), field="note", limit=MAX_NOTE_LENGTH
        )
    if resolution in NEEDS_NOTE and not text:
        raise InvalidInput(
            N_(
                "Closing as false positive or benign needs a note saying why: "
                "it is what the rule's authors learn from."
            ),
            field="note",
        )
    return resolution, text or None


def check_alert_ids(alert_ids: Sequence[int]) -> list[int]:
    """Distinct ids, 1 to ``MAX_BULK`` of them, in the order given."""
    distinct = list(dict.fromkeys(alert_ids))
    if not distinct:
        raise InvalidInput(N_("Select at least one alert."), field="alert_ids")
    if len(distinct) > MAX_BULK:
        raise InvalidInput(
            N_("Select at most %(limit)d alerts at a time."), field="alert_ids", limit=MAX_BULK
        )
    return distinct


def _bulk(
    session: Session,
    alert_ids: Sequence[int],
    *,
    check: Callable[[Alert], None],
    change: Callable[[Alert], None],
) -> BulkOutcome:
    wanted = check_alert_ids(alert_ids)
    found = {
        alert.id: alert for alert in session.scalars(select(Alert).where(Alert.id.in_(wanted)))
    }
    missing = [alert_id for alert_id in wanted if alert_id not in found]
    if missing:  # nothing is changed when any id is unknown: the selection is stale
        raise NotFound(N_("There is no alert %(id)s."), id=missing[0])
    changed: list[int] = []
    skipped: list[int] = []
    for alert_id in wanted:
        alert = found[alert_id]
        try:
            check(alert)
        except Conflict:
            skipped.append(alert_id)
            continue
        change(alert)
        changed.append(alert_id)
    return BulkOutcome(changed=tuple(changed), skipped=tuple(skipped))


def _check_acknowledge(alert: Alert) -> None:
    if alert.status == AlertStatus.CLOSED.value:
        raise Conflict(N_("Alert %(id)s is closed: it cannot be acknowledged."), id=alert.id)
    if alert.status in IN_INCIDENT:
        raise Conflict(
            N_("Alert %(id)s is in an incident already: the incident is where it is handled."),
            id=alert.id,
        )
    if alert.status != AlertStatus.NEW.value:
        raise Conflict(N_("Alert %(id)s is already acknowledged."), id=alert.id)


def _check_close(alert: Alert) -> None:
    if alert.status == AlertStatus.CLOSED.value:
        raise Conflict(N_("Alert %(id)s is already closed."), id=alert.id)


def _acknowledge(session: Session, alert: Alert, actor: Actor, now: datetime) -> None:
    alert.status = AlertStatus.ACKNOWLEDGED.value
    alert.acknowledged_at, alert.acknowledged_by = now, actor.name
    _changed(session, alert, now)
    record_audit(
        session,
        actor=actor,
        action="alert.acknowledged",
        target=f"alert:{alert.id}",
        outcome="success",
        now=now,
    )


def _close(
    session: Session,
    alert: Alert,
    *,
    resolution: str,
    note: str | None,
    actor: Actor,
    now: datetime,
) -> None:
    alert.status = AlertStatus.CLOSED.value
    alert.resolution, alert.resolution_note = resolution, note
    alert.closed_at, alert.closed_by = now, actor.name
    if alert.acknowledged_at is None:  # closing it is looking at it
        alert.acknowledged_at, alert.acknowledged_by = now, actor.name
    _changed(session, alert, now)
    record_audit(
        session,
        actor=actor,
        action="alert.closed",
        target=f"alert:{alert.id}",
        outcome="success",
        now=now,
        details={"resolution": resolution, "rule": alert.rule_key},
    )


def _changed(session: Session, alert: Alert, now: datetime) -> None:
    alert.version += 1
    alert.updated_at = now
    feed_changes.record_alert_change(session, alert, change="status", now=now)
