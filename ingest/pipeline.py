"""The event stream after the store: every stored event reaches each consumer, in order.

A consumer (the detection engine) has a durable cursor: the id of the last event it has
handled. ``deliver`` reads the events after it, hands them over and moves the cursor in
the same transaction as whatever the consumer wrote, so a consumer can lag, crash or
restart without losing an event or handling one twice. There is no in-memory queue to
lose: the event table is the queue (ids grow in commit order, see ``storage.events``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import authentication_events
from ingest.batches import Batch
from ingest.models import EventCursor
from storage.events import Event, read_events_after

DELIVERY_BATCH = 1000
AUTH_EVENTS_CURSOR = "import:wachter.auth"


class EventConsumer(Protocol):
    """Something that must see every stored event once (``name`` keys its cursor)."""

    name: str

    def consume(self, session: Session, events: Sequence[Event]) -> None:
        """Handle ``events`` (oldest first) inside the caller's transaction."""
        ...


def batch_size_of(consumer: EventConsumer) -> int:
    """How many events one delivery hands ``consumer``: its own ``batch_size`` if it has one
    (the search indexer sends bigger batches: one cluster round trip costs more than a
    matcher call), otherwise ``DELIVERY_BATCH``."""
    size = getattr(consumer, "batch_size", DELIVERY_BATCH)
    return size if isinstance(size, int) and size > 0 else DELIVERY_BATCH


def cursor_position(session: Session, name: str) -> int:
    return session.scalar(select(EventCursor.position).where(EventCursor.name == name)) or 0


def _locked_cursor(session: Session, name: str, now: datetime) -> EventCursor:
    # FOR UPDATE on PostgreSQL; SQLite's write transactions are serial already (BEGIN
    # IMMEDIATE). Two deliveries to one consumer therefore never interleave.
    cursor = session.scalar(select(EventCursor).where(EventCursor.name == name).with_for_update())
    if cursor is None:
        cursor = EventCursor(name=name, position=0, updated_at=now)
        session.add(cursor)
        session.flush()
    return cursor


def deliver(
    session: Session, consumer: EventConsumer, *, now: datetime, limit: int = DELIVERY_BATCH
) -> int:
    """Hand ``consumer`` the next events after its cursor; returns how many (0: caught up)."""
    cursor = _locked_cursor(session, consumer.name, now)
    events = read_events_after(session, cursor.position, limit=limit)
    if not events:
        return 0
    consumer.consume(session, events)
    cursor.position = events[-1].id
    cursor.updated_at = now
    return len(events)


def oldest_unconsumed(session: Session, names: Sequence[str]) -> int | None:
    """The lowest cursor among ``names`` (None without consumers): retention keeps the rest."""
    if not names:
        return None
    return min(cursor_position(session, name) for name in names)


def import_authentication_events(
    session: Session, *, now: datetime, limit: int = DELIVERY_BATCH
) -> int:
    """Copy Wachter's own sign-in events from the audit trail into the event store.

    The service watches itself with the same rules (DESIGN.md); the audit entry id is
    both the cursor and the event id, so a re-run never doubles an event.
    """
    cursor = _locked_cursor(session, AUTH_EVENTS_CURSOR, now)
    documents = authentication_events(session, after_id=cursor.position, limit=limit)
    if not documents:
        return 0
    batch = Batch(receiver="wachter", source="wachter", ingested=now, origin="audit trail")
    for document in documents:
        entry_id = document["event"]["id"]
        batch.add(document, event_key=f"audit:{entry_id}", raw=str(entry_id))
    batch.store(session)
    cursor.position = int(documents[-1]["event"]["id"])
    cursor.updated_at = now
    return len(documents)
