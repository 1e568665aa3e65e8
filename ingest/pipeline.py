"""The event stream after the store: every stored event reaches each consumer, in order.

A consumer (the detection engine) has a durable cursor: the id of the last event it has
handled. ``deliver`` reads the events after it, hands them over and moves the cursor in
the same transaction as whatever the consumer wrote, so a consumer can lag, crash or
restart without losing an event or handling one twice. There is no in-memory queue to
lose: the event table is the queue (ids grow in commit order, see ``storage.events``).

A consumer that needs only the stored JSON and the event's identity (the search indexer)
is a ``RowConsumer``: it gets the batch as a stream of light rows (``EventRow``: no ORM
objects) read while it works, so reading the next rows overlaps with what it does with
the earlier ones (bench/elasticsearch). The cursor moves to the last row it took.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from itertools import chain
from typing import NamedTuple, Protocol, runtime_checkable

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


class EventRow(NamedTuple):
    """What a ``RowConsumer`` gets of a stored event: its id, identity, time and JSON."""

    id: int
    source: str
    event_key: str
    timestamp: datetime
    document: str


@runtime_checkable
class RowConsumer(Protocol):
    """A consumer that takes the events after its cursor as a stream of ``EventRow``.

    ``consume_rows`` pulls rows from ``rows`` (oldest first) inside the caller's
    transaction; the rows it pulled count as handled (normally all of them).
    """

    name: str

    def consume_rows(self, session: Session, rows: Iterator[EventRow]) -> None: ...


def batch_size_of(consumer: EventConsumer | RowConsumer) -> int:
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
    session: Session,
    consumer: EventConsumer | RowConsumer,
    *,
    now: datetime,
    limit: int = DELIVERY_BATCH,
) -> int:
    """Hand ``consumer`` the next events after its cursor; returns how many (0: caught up)."""
    cursor = _locked_cursor(session, consumer.name, now)
    if isinstance(consumer, RowConsumer):
        return _deliver_rows(session, consumer, cursor, now=now, limit=limit)
    events = read_events_after(session, cursor.position, limit=limit)
    if not events:
        return 0
    consumer.consume(session, events)
    cursor.position = events[-1].id
    cursor.updated_at = now
    return len(events)


_ROW_COLUMNS = (Event.id, Event.source, Event.event_key, Event.timestamp, Event.document)


def _deliver_rows(
    session: Session, consumer: RowConsumer, cursor: EventCursor, *, now: datetime, limit: int
) -> int:
    query = select(*_ROW_COLUMNS).where(Event.id > cursor.position).order_by(Event.id)
    # Core, not ORM: no identity map or objects, and the driver's cursor is read lazily.
    result = session.connection().execute(query.limit(limit))
    first = result.fetchone()
    if first is None:
        return 0
    taken = [0, cursor.position]  # how many rows the consumer pulled, and the last id

    def rows() -> Iterator[EventRow]:
        for row in chain((first,), result):
            taken[0] += 1
            taken[1] = row[0]
            yield EventRow(*row)

    consumer.consume_rows(session, rows())
    result.close()
    if taken[0]:
        cursor.position = taken[1]
        cursor.updated_at = now
    return taken[0]


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
