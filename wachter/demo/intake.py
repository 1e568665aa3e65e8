"""The demo's raw records through Wachter's own intake, two hours at a time, detecting as it goes.

Text logs are written to files and read back by ``ingest.files.read_records`` (the path
``wachter ingest`` takes); Windows events go as an NDJSON body through
``ingest.receive_body`` (the body of ``POST /api/v1/events``). Each delivery is an
``ingest.Batch`` under the feed's ``demo-…`` source, so parsing, normalisation, event ids and
dead letters are the real ones, and the demo's events stay recognisable.

Why in slices: the correlation windows follow event time, and the detection consumer
closes them as the newest event it has seen moves on. Storing a fortnight source by source
would show it each source's fortnight in turn; slices of two hours, each handed to the
detection engine before the next is stored, keep the stream in time order, as in life.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from pathlib import Path

import orjson
from sqlalchemy.orm import Session

from core import Settings
from detection_rules import DetectionConsumer, OfficeHours
from incidents.alerts import ALERT_BATCH, raise_alerts
from ingest import Batch, FileRecord, ParseError, files, get_parser, pipeline, receive_body
from ingest.parsers.badge_csv import BadgeCsvParser, BadgeMapping
from ingest.parsers.windows import WindowsParser
from storage import Database
from wachter.demo.events import BADGE, BADGE_HEADER, FEEDS, WINDOWS, Record

SLICE = timedelta(hours=2)
# Within a slice the badge export goes first: a door opened before a VPN login is the order
# in which the temporal correlation expects them most often (it takes either).
FEED_ORDER = (BADGE, "linux", WINDOWS, "web", "vpn")
DELIVERY_LIMIT = 5000  # more than a slice of the demo's events: one delivery per slice
BADGE_MAPPING = BadgeMapping(
    columns={
        "time": "Tijdstip",
        "badge": "Kaartnummer",
        "person": "Pashouder",
        "door": "Lezer",
        "zone": "Zone",
        "result": "Resultaat",
        "controller": "Paneel",
    },
    granted=frozenset({"toegang verleend"}),
    denied=frozenset({"toegang geweigerd"}),
)


@dataclass
class IntakeCount:
    stored: int = 0
    rejected: int = 0


@dataclass
class _MovingClock:
    """The time the detection engine sees: the end of the slice it is handed, as if live."""

    current: datetime

    def now(self) -> datetime:
        return self.current


class Stream:
    """Detection and alert raising as the background jobs run them, at a moment the demo sets.

    Detections and alerts of the fortnight then carry the time they would have had with
    Wachter running all along, so the dashboard's charts show days, not one minute.
    """

    def __init__(self, database: Database, settings: Settings, *, now: datetime) -> None:
        opens, closes = settings.office_hours
        hours = OfficeHours(timezone=settings.timezone, opens=opens, closes=closes)
        self.database, self.clock = database, _MovingClock(now)
        self.detection = DetectionConsumer(office_hours=hours, clock=self.clock)
        self.dedup_window = timedelta(minutes=settings.alert_dedup_minutes)

    def catch_up(self, at: datetime) -> None:
        """Hand the detection engine every event stored so far, then raise the alerts."""
        with self.database.unit_of_work() as session:
            self.catch_up_in(session, at)

    def catch_up_in(self, session: Session, at: datetime) -> None:
        """``catch_up`` in the caller's transaction (one commit per slice on a slow disk)."""
        self.clock.current = at
        while pipeline.deliver(session, self.detection, now=at, limit=DELIVERY_LIMIT):
            pass
        while raise_alerts(session, now=at, dedup_window=self.dedup_window) == ALERT_BATCH:
            pass


@dataclass(frozen=True)
class _Parsed:
    record: Record
    parsed: FileRecord | None  # None: a Windows event, parsed by the HTTP intake


def ingest_and_detect(stream: Stream, records: list[Record], *, now: datetime) -> IntakeCount:
    """Store ``records`` slice by slice, detection and alerts after each; the counts."""
    count = IntakeCount()
    with tempfile.TemporaryDirectory(prefix="wachter-demo-") as folder:
        parsed = sorted(_parse(records, Path(folder), now), key=lambda p: p.record.moment)
    start = parsed[0].record.moment if parsed else now
    for number, group in groupby(parsed, key=lambda p: _slice(p, start)):
        piece = list(group)
        with stream.database.unit_of_work() as session:
            for feed in FEED_ORDER:
                mine = [p for p in piece if p.record.feed == feed]
                if mine:
                    receipt = _batch(feed, mine, now).store(session)
                    count.stored += receipt.stored
                    count.rejected += len(receipt.rejected)
            stream.catch_up_in(session, min(start + (number + 1) * SLICE, now))
    return count


def _slice(parsed: _Parsed, start: datetime) -> int:
    return int((parsed.record.moment - start) / SLICE)


def _parse(records: list[Record], folder: Path, now: datetime) -> Iterator[_Parsed]:
    """Text feeds read back from files by the file intake; Windows events left as they are."""
    for feed, name in ((key, f.format_name) for key, f in FEEDS.items()):
        mine = sorted((r for r in records if r.feed == feed), key=lambda r: r.moment)
        if feed == WINDOWS:
            yield from (_Parsed(record, None) for record in mine)
            continue
        path = folder / FEEDS[feed].origin
        lines = [str(record.raw) for record in mine]
        if feed == BADGE:
            lines.insert(0, BADGE_HEADER)
            file_format = files.FileFormat(name, BadgeCsvParser(BADGE_MAPPING))
        else:
            file_format = files.FileFormat(name, get_parser(name))
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        read = files.read_records(path, file_format, start=0, received=now)
        yield from (_Parsed(record, parsed) for record, parsed in zip(mine, read, strict=True))


def _batch(feed: str, items: list[_Parsed], now: datetime) -> Batch:
    spec = FEEDS[feed]
    receiver = "http" if feed == WINDOWS else "file"
    batch = Batch(receiver=receiver, source=spec.source, ingested=now, origin=spec.origin)
    if feed == WINDOWS:
        body = b"\n".join(_json_line(item.record) for item in items)
        receive_body(body, batch=batch, parser=WindowsParser(), ndjson=True)
        return batch
    for item in items:
        record = item.parsed
        assert record is not None  # text feeds are always read back
        if isinstance(record.result, ParseError):
            batch.reject(record.result.reason, record.raw)
        else:
            batch.add(record.result, event_key=files.event_key(record), raw=record.raw)
    return batch


def _json_line(record: Record) -> bytes:
    if isinstance(record.raw, dict):
        return orjson.dumps(record.raw)
    return record.raw.encode()  # a malformed one, sent as it is
