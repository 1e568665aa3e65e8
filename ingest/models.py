"""Tables of log collection: rejected input, consumer cursors, file checkpoints and the
console's saved event searches.

The events themselves live in ``storage.events`` (the event store has an Elasticsearch
twin; these tables always stay in SQL).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage import Base, UTCDateTime

_Id = BigInteger().with_variant(Integer(), "sqlite")


class DeadLetter(Base):
    """Raw input no parser could turn into an event, kept with the reason (capped)."""

    __tablename__ = "dead_letter"

    id: Mapped[int] = mapped_column(_Id, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    receiver: Mapped[str] = mapped_column(String(40))  # http, syslog-udp, syslog-tcp, file
    source: Mapped[str] = mapped_column(String(100))  # token, peer address or file name
    reason: Mapped[str] = mapped_column(String(300))
    # The input as text (undecodable bytes shown as \\xNN), cut to ingest.dead_letters.MAX_RAW.
    raw: Mapped[str] = mapped_column(Text)
    raw_size: Mapped[int] = mapped_column(Integer)  # bytes before cutting


class EventCursor(Base):
    """How far a consumer of the event stream (or an importer) has got: a durable position."""

    __tablename__ = "event_cursor"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FileCheckpoint(Base):
    """Progress of ``wachter ingest`` through one file, so a re-run resumes where it stopped.

    Known by its path; ``prefix_hash`` (SHA-256 of the file's first bytes, up to 64 KiB, as
    far as it was read) tells whether the file at that path is still the one read: a file
    that grew resumes, a rotated or replaced one starts afresh (and stores nothing twice:
    event ids come from position and content).
    """

    __tablename__ = "ingest_file"

    path_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # of the full path
    path: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(40))
    prefix_hash: Mapped[str] = mapped_column(String(64))
    offset: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes (records for .evtx)
    events: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SavedSearch(Base):
    """An event search a console user keeps under a name: query and time range as typed
    (``now-24h`` stays relative), run again with a click. Each user sees only their own;
    ``ingest.saved_searches`` bounds them."""

    __tablename__ = "saved_search"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Gone with the account (searches are nobody else's business).
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(Text)  # at most ingest.search.MAX_QUERY_LENGTH
    since: Mapped[str | None] = mapped_column(String(64))
    until: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    # Also the index for "this user's searches" (user_id comes first).
    __table_args__ = (UniqueConstraint("user_id", "name"),)
