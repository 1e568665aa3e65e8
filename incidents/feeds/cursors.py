"""The positions of the feed's own consumers (CEF sender, alert mirror) in ``incidents_cursor``.

Each consumer reads feed entries after its position, sends them, and only then moves the
position, in a new transaction: a crash in between sends the entries again (the receivers
tolerate that), never skips them. Moving is conditional on the position read before, so a
second process that moved it meanwhile is never undone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from incidents.alerts.models import IncidentsCursor
from incidents.feeds.models import AlertFeedEntry
from storage.database import READ_ONLY


def cursor_position(session: Session, name: str) -> int:
    """The id of the last feed entry the consumer ``name`` has handled (0 before the first)."""
    position = session.scalar(select(IncidentsCursor.position).where(IncidentsCursor.name == name))
    return position or 0


def advance_cursor(session: Session, name: str, *, position: int, to: int, now: datetime) -> bool:
    """Move ``name`` from ``position`` to ``to``; False when another process moved it first."""
    moved = session.execute(
        update(IncidentsCursor)
        .where(IncidentsCursor.name == name, IncidentsCursor.position == position)
        .values(position=to, updated_at=now)
    ).rowcount  # type: ignore[attr-defined]
    if moved:
        return True
    exists = session.scalar(select(IncidentsCursor.name).where(IncidentsCursor.name == name))
    if exists is None:
        try:
            with session.begin_nested():
                session.add(IncidentsCursor(name=name, position=to, updated_at=now))
            return True
        except IntegrityError:  # made by another process in the meantime
            pass
    return False


def entries_after_cursor(
    session: Session, name: str, *, limit: int
) -> tuple[int, Sequence[AlertFeedEntry]]:
    """The consumer's position and the next ``limit`` feed entries after it, read read-only
    when the session has no transaction yet (no write lock while the caller sends them)."""
    if not session.in_transaction():
        session.connection(execution_options={READ_ONLY: True})
    position = cursor_position(session, name)
    entries = session.scalars(
        select(AlertFeedEntry)
        .where(AlertFeedEntry.id > position)
        .order_by(AlertFeedEntry.id)
        .limit(limit)
    ).all()
    return position, entries
