"""One delivery of input (an HTTP body, a run of syslog lines, a stretch of a file), stored
in one transaction: its events in the event store, its rejections in the dead letters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from ingest.dead_letters import Rejection, record_dead_letters
from ingest.normalise import finish
from ingest.parsers.base import Document, ParseError
from ingest.timestamps import Flag
from storage.events import EventRecord, append_events


@dataclass(frozen=True)
class Receipt:
    """What became of a batch. ``accepted`` counts events now stored, new or already there."""

    accepted: int
    stored: int
    rejected: tuple[Rejection, ...] = ()

    @property
    def duplicates(self) -> int:
        return self.accepted - self.stored


@dataclass
class Batch:
    receiver: str  # http, syslog-udp, syslog-tcp, syslog-tls, file, wachter
    source: str  # the event-id namespace: http:<token id>, syslog, file, wachter
    ingested: datetime
    origin: str = ""  # shown with dead letters: token name, peer address, file name
    records: list[EventRecord] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)

    def add(
        self,
        document: Document,
        *,
        event_key: str,
        raw: bytes | str,
        index: int | None = None,
        flags: Iterable[Flag] = (),
        key_by_time: bool = False,
    ) -> bool:
        """Normalise and queue ``document``; a document that cannot be stored is rejected."""
        try:
            record = finish(
                document,
                source=self.source,
                event_key=event_key,
                ingested=self.ingested,
                flags=flags,
                key_by_time=key_by_time,
            )
        except ParseError as error:
            self.reject(error.reason, raw, index=index)
            return False
        self.records.append(record)
        return True

    def reject(self, reason: str, raw: bytes | str, *, index: int | None = None) -> None:
        self.rejections.append(Rejection(reason=reason, raw=raw, index=index))

    def __len__(self) -> int:
        return len(self.records) + len(self.rejections)

    def store(self, session: Session) -> Receipt:
        """Write the events and the rejections; the caller's unit of work commits."""
        stored = append_events(session, self.records)
        record_dead_letters(
            session,
            self.rejections,
            receiver=self.receiver,
            source=self.origin or self.source,
            received_at=self.ingested,
        )
        return Receipt(accepted=len(self.records), stored=stored, rejected=tuple(self.rejections))
