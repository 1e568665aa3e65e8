"""Comments on an incident: append-only. An edit is a new version, the old ones stay.

Version 1 of a comment starts its thread (``thread_id`` is ``None`` on it); every edit is a
new row with ``thread_id`` = the first version's id and the next version number. Only the
author may edit. A listing shows each thread's latest version, says it was edited, and
keeps every earlier version at hand. Comments are free text: the audit trail and the
timeline only get their ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from access_control import Actor
from core import Conflict, InvalidInput, NotFound, PermissionDenied
from core.i18n import N_
from incidents.cases.history import record_change
from incidents.cases.lookup import writable_incident
from incidents.cases.models import IncidentComment

MAX_COMMENT: Final = 10_000


@dataclass(frozen=True)
class CommentThread:
    """A comment as shown: its latest version, and all versions oldest first."""

    versions: tuple[IncidentComment, ...]

    @property
    def id(self) -> int:
        return self.versions[0].id

    @property
    def first(self) -> IncidentComment:
        return self.versions[0]

    @property
    def latest(self) -> IncidentComment:
        return self.versions[-1]

    @property
    def is_edited(self) -> bool:
        return len(self.versions) > 1


def _body(body: str) -> str:
    text = body.strip()
    if not text or len(text) > MAX_COMMENT:
        raise InvalidInput(
            N_("A comment needs 1 to %(limit)d characters."), field="body", limit=MAX_COMMENT
        )
    return text


def add_comment(
    session: Session, *, incident_id: int, body: str, actor: Actor, now: datetime
) -> IncidentComment:
    incident = writable_incident(session, incident_id)
    comment = IncidentComment(
        incident_id=incident.id,
        origin_incident_id=incident.id,
        thread_id=None,
        version=1,
        body=_body(body),
        author=actor.name,
        created_at=now,
    )
    session.add(comment)
    session.flush()
    record_change(
        session,
        incident,
        action="comment_added",
        kind="comment_added",
        actor=actor,
        now=now,
        details={"comment_id": comment.id},
    )
    return comment


def edit_comment(
    session: Session,
    *,
    incident_id: int,
    comment_id: int,
    body: str,
    actor: Actor,
    now: datetime,
) -> IncidentComment:
    """A new version of the comment ``comment_id`` (its first version's id); author only."""
    incident = writable_incident(session, incident_id)
    first = session.get(IncidentComment, comment_id)
    if first is None or first.thread_id is not None or first.incident_id != incident.id:
        raise NotFound(N_("There is no comment %(id)s on this incident."), id=comment_id)
    if first.author != actor.name:
        raise PermissionDenied(N_("Only the author of a comment may edit it."))
    text = _body(body)
    latest = _latest(session, first)
    if latest.body == text:
        raise InvalidInput(N_("The comment is unchanged."), field="body")
    edited = IncidentComment(
        incident_id=first.incident_id,
        # The thread's: an edit made after a merge goes back with its comment on un-merge.
        origin_incident_id=first.origin_incident_id,
        thread_id=first.id,
        version=latest.version + 1,
        body=text,
        author=actor.name,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(edited)
    except IntegrityError:  # (thread, version) is unique: someone edited it meanwhile
        raise Conflict(N_("The comment was edited meanwhile; reload and try again.")) from None
    record_change(
        session,
        incident,
        action="comment_edited",
        kind="comment_edited",
        actor=actor,
        now=now,
        details={"comment_id": first.id, "version": edited.version},
    )
    return edited


def _latest(session: Session, first: IncidentComment) -> IncidentComment:
    newest = session.scalar(
        select(func.max(IncidentComment.version)).where(IncidentComment.thread_id == first.id)
    )
    if newest is None:
        return first
    latest = session.scalar(
        select(IncidentComment).where(
            IncidentComment.thread_id == first.id, IncidentComment.version == newest
        )
    )
    assert latest is not None
    return latest


def comment_threads(session: Session, incident_id: int) -> list[CommentThread]:
    """The incident's comments, oldest thread first, each with all its versions."""
    rows = session.scalars(
        select(IncidentComment)
        .where(IncidentComment.incident_id == incident_id)
        .order_by(IncidentComment.id)
    )
    threads: dict[int, list[IncidentComment]] = {}
    for row in rows:
        threads.setdefault(row.thread_id or row.id, []).append(row)
    return [
        CommentThread(tuple(sorted(versions, key=lambda version: version.version)))
        for versions in threads.values()
    ]
