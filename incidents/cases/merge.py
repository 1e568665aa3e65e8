"""Merging an incident into another, and undoing it, without losing any history.

A merge moves the source's alerts, comments, tasks, entities, timeline entries and
evidence to the target. Each moved row keeps ``origin_incident_id`` (where it was made)
and is listed in ``IncidentMergeRow`` under the merge, so the un-merge moves back exactly
what that merge moved, even after merges of merges. The source becomes state ``merged``
with ``merged_into_id`` set: read-only until un-merged, when its state comes back. An
entity both incidents have stays on the source (one incident lists an entity once).

Moved alerts get a new version and a feed entry (the SOC sees their new incident); moved
evidence gets a chain-of-custody entry. Both incidents get an audit entry and a timeline
entry for the merge and for the un-merge.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import Actor
from core import Conflict, InvalidInput, NotFound
from core.i18n import N_
from incidents.alerts.models import Alert
from incidents.cases.history import record_change
from incidents.cases.lookup import check_writable, locked_incident, writable_incident
from incidents.cases.models import (
    Incident,
    IncidentAlert,
    IncidentComment,
    IncidentEntity,
    IncidentMerge,
    IncidentMergeRow,
    IncidentTask,
    MovedKind,
    TimelineEntry,
)
from incidents.cases.states import State
from incidents.evidence.models import CustodyEntry, Evidence
from incidents.feeds.changes import record_alert_change

Movable = IncidentComment | IncidentTask | TimelineEntry | Evidence | IncidentEntity
# Rows that carry ``incident_id`` and move as they are (alerts and entities are special).
_PLAIN: dict[MovedKind, type[Movable]] = {
    MovedKind.COMMENT: IncidentComment,
    MovedKind.TASK: IncidentTask,
    MovedKind.TIMELINE: TimelineEntry,
    MovedKind.EVIDENCE: Evidence,
}
# What an un-merge moves back row by row (alerts move with their link).
_MOVABLE: dict[MovedKind, type[Movable]] = {MovedKind.ENTITY: IncidentEntity, **_PLAIN}


def merge_incidents(
    session: Session, *, source_id: int, target_id: int, actor: Actor, now: datetime
) -> IncidentMerge:
    """Merge ``source`` into ``target`` (same type; the target open, neither merged)."""
    if source_id == target_id:
        raise InvalidInput(N_("An incident cannot be merged into itself."), field="reference")
    # Locked in id order, so two merges of the same pair in opposite directions take turns.
    locked = {key: writable_incident(session, key) for key in sorted((source_id, target_id))}
    source, target = locked[source_id], locked[target_id]
    if source.type != target.type:
        raise Conflict(N_("Only incidents of the same type can be merged."))
    if target.state == State.CLOSED:
        raise Conflict(
            N_("%(reference)s is closed; reopen it before merging into it."),
            reference=target.reference,
        )
    merge = IncidentMerge(
        source_incident_id=source.id,
        target_incident_id=target.id,
        source_state=source.state,
        merged_at=now,
        merged_by=actor.name,
    )
    session.add(merge)
    session.flush()
    moved = _move_all(session, merge, source, target, actor=actor, now=now)
    source.state = State.MERGED.value
    source.merged_into_id = target.id
    details = {"merge_id": merge.id, "source_id": source.id, "target_id": target.id, **moved}
    for incident in (target, source):
        record_change(
            session, incident, action="merged", kind="merged", actor=actor, now=now, details=details
        )
    return merge


def unmerge(session: Session, *, merge_id: int, actor: Actor, now: datetime) -> IncidentMerge:
    """Undo a merge: the rows it moved go back, the source gets its state back."""
    merge = session.get(IncidentMerge, merge_id)
    if merge is None:
        raise NotFound(N_("There is no merge %(id)s."), id=merge_id)
    pair = (merge.source_incident_id, merge.target_incident_id)
    locked = {key: locked_incident(session, key) for key in sorted(pair)}
    source, target = locked[pair[0]], locked[pair[1]]
    session.refresh(merge)  # as it is now that both incidents are ours
    if merge.unmerged_at is not None:
        raise Conflict(N_("This merge was already undone."))
    check_writable(session, target)  # merged on into a third incident: undo that first
    moved = _move_back(session, merge, source, target, actor=actor, now=now)
    source.state = merge.source_state
    source.merged_into_id = None
    merge.unmerged_at = now
    merge.unmerged_by = actor.name
    details = {"merge_id": merge.id, "source_id": source.id, "target_id": target.id, **moved}
    for incident in (target, source):
        record_change(
            session,
            incident,
            action="unmerged",
            kind="unmerged",
            actor=actor,
            now=now,
            details=details,
        )
    return merge


def merges_into(session: Session, incident_id: int) -> list[IncidentMerge]:
    """Merges into the incident that are in force (not undone), oldest first."""
    query = (
        select(IncidentMerge)
        .where(IncidentMerge.target_incident_id == incident_id, IncidentMerge.unmerged_at.is_(None))
        .order_by(IncidentMerge.id)
    )
    return list(session.scalars(query))


def merge_of(session: Session, incident_id: int) -> IncidentMerge | None:
    """The merge in force that made this incident read-only, if any."""
    query = select(IncidentMerge).where(
        IncidentMerge.source_incident_id == incident_id, IncidentMerge.unmerged_at.is_(None)
    )
    return session.scalar(query)


def _move_all(
    session: Session,
    merge: IncidentMerge,
    source: Incident,
    target: Incident,
    *,
    actor: Actor,
    now: datetime,
) -> dict[str, int]:
    moved: dict[str, list[int]] = {
        MovedKind.ALERT: _move_alerts(session, _links(session, source.id), target.id, now),
        MovedKind.ENTITY: _move_entities(session, source.id, target.id),
    }
    for kind, model in _PLAIN.items():
        items = _rows_at(session, model, None, source.id)
        for item in items:
            item.incident_id = target.id
        moved[kind] = [item.id for item in items]
    _custody(
        session,
        moved[MovedKind.EVIDENCE],
        action="moved_by_merge",
        merge_id=merge.id,
        actor=actor,
        now=now,
    )
    session.add_all(
        IncidentMergeRow(merge_id=merge.id, kind=kind, row_id=row_id)
        for kind, row_ids in moved.items()
        for row_id in row_ids
    )
    session.flush()
    return {f"{kind}s": len(row_ids) for kind, row_ids in moved.items()}


def _move_back(
    session: Session,
    merge: IncidentMerge,
    source: Incident,
    target: Incident,
    *,
    actor: Actor,
    now: datetime,
) -> dict[str, int]:
    by_kind: dict[str, list[int]] = {}
    for row in session.scalars(
        select(IncidentMergeRow).where(IncidentMergeRow.merge_id == merge.id)
    ):
        by_kind.setdefault(row.kind, []).append(row.row_id)
    links = session.scalars(
        select(IncidentAlert).where(
            IncidentAlert.alert_id.in_(by_kind.get(MovedKind.ALERT, [])),
            IncidentAlert.incident_id == target.id,
        )
    ).all()
    counts = {"alerts": len(_move_alerts(session, links, source.id, now))}
    for kind, model in _MOVABLE.items():
        items = _rows_at(session, model, by_kind.get(kind, []), target.id)
        if model is IncidentComment:
            items.extend(_later_versions(session, [item.id for item in items], target.id))
        for item in items:
            item.incident_id = source.id
        counts[f"{kind}s"] = len(items)
        if model is Evidence:
            moved_back = [item.id for item in items]
            _custody(
                session,
                moved_back,
                action="moved_by_unmerge",
                merge_id=merge.id,
                actor=actor,
                now=now,
            )
    session.flush()
    return counts


def _rows_at(
    session: Session, model: type[Movable], row_ids: list[int] | None, incident_id: int
) -> list[Movable]:
    """The rows (all, or those among ``row_ids``) that are at the incident now."""
    query = select(model).where(model.incident_id == incident_id)
    if row_ids is not None:
        if not row_ids:
            return []
        query = query.where(model.id.in_(row_ids))
    return list(session.scalars(query))


def _later_versions(
    session: Session, thread_ids: list[int], incident_id: int
) -> list[IncidentComment]:
    """Edits made on the target to comments that came with the merge: they go back too."""
    if not thread_ids:
        return []
    query = select(IncidentComment).where(
        IncidentComment.thread_id.in_(thread_ids),
        IncidentComment.incident_id == incident_id,
        IncidentComment.id.not_in(thread_ids),  # the versions that moved with the merge
    )
    return list(session.scalars(query))


def _links(session: Session, incident_id: int) -> list[IncidentAlert]:
    query = select(IncidentAlert).where(IncidentAlert.incident_id == incident_id)
    return list(session.scalars(query))


def _move_alerts(
    session: Session, links: Iterable[IncidentAlert], incident_id: int, now: datetime
) -> list[int]:
    moved = []
    for link in links:
        link.incident_id = incident_id
        alert = session.get(Alert, link.alert_id)
        if alert is not None:
            alert.incident_id = incident_id
            alert.version += 1
            alert.updated_at = now
            record_alert_change(session, alert, change="updated", now=now)
        moved.append(link.alert_id)
    return moved


def _move_entities(session: Session, source_id: int, target_id: int) -> list[int]:
    present: set[tuple[str, str]] = {
        (kind, value)
        for kind, value in session.execute(
            select(IncidentEntity.kind, IncidentEntity.value).where(
                IncidentEntity.incident_id == target_id
            )
        )
    }
    moved = []
    for entity in session.scalars(
        select(IncidentEntity).where(IncidentEntity.incident_id == source_id)
    ):
        if (entity.kind, entity.value) not in present:
            entity.incident_id = target_id
            moved.append(entity.id)
    return moved


def _custody(
    session: Session,
    evidence_ids: list[int],
    *,
    action: str,
    merge_id: int,
    actor: Actor,
    now: datetime,
) -> None:
    for evidence_id in evidence_ids:
        evidence = session.get(Evidence, evidence_id)
        session.add(
            CustodyEntry(
                evidence_id=evidence_id,
                occurred_at=now,
                actor=actor.name,
                ip=actor.ip,
                action=action,
                sha256=None,
                details=orjson.dumps(
                    {
                        "merge_id": merge_id,
                        "incident_id": evidence.incident_id if evidence else None,
                    }
                ).decode(),
            )
        )
