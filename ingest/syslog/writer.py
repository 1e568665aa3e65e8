"""The hand-over from the sockets to the database: a bounded queue and the writer threads.

The socket side never waits for the database. It offers what it read to ``MessageQueue``;
when the queue is full the offer is refused and the caller holds back (a TCP connection
stops reading, so the kernel's window pushes back on the sender; a UDP datagram is
counted as dropped). The writer takes up to ``batch_size`` messages, or what came within
``linger`` of the first, parses them and stores them in one transaction.

A failing database never loses a batch: the writer keeps it and retries with a growing
pause, and the full queue pushes back on the senders meanwhile. Only at shutdown, after
``stop``'s grace, does it give up; it then logs how many messages were not stored.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from queue import Queue
from typing import Any

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from core import Clock
from ingest.batches import Batch
from ingest.dead_letters import Rejection
from ingest.normalise import content_key
from ingest.parsers.base import Document, ParseError
from ingest.parsers.syslog import parse_syslog
from ingest.timestamps import Flag
from storage import Database

log = logging.getLogger("wachter.syslog")

Entry = bytes | Rejection  # a framed message, or input refused before parsing
_INVALID_UTF8 = (Flag.INVALID_UTF8,)
MAX_RETRY_PAUSE = 30.0  # seconds between attempts while the database stays unusable


@dataclass(frozen=True, slots=True)
class Peer:
    """Who sent a run of messages: the receiver, the sender's IP, its TLS identity."""

    receiver: str  # syslog-udp, syslog-tcp, syslog-tls
    address: str
    tls_subject: str | None = None


Chunk = tuple[Peer, Sequence[Entry]]


class MessageQueue:
    """Bounded by messages and bytes; ``offer`` never blocks, ``take`` waits for work."""

    def __init__(self, *, max_messages: int, max_bytes: int) -> None:
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.on_drained: Callable[[], None] = lambda: None  # called by take(), off the loop
        self._chunks: deque[tuple[Chunk, int, int]] = deque()
        self._messages = 0
        self._bytes = 0
        self._refused = False  # an offer was refused since the last on_drained
        self._closed = False
        self._ready = threading.Condition()

    def __len__(self) -> int:
        return self._messages

    def offer(
        self, peer: Peer, entries: Sequence[Entry], size: int, *, force: bool = False
    ) -> bool:
        """Queue ``entries`` (``size`` bytes); False, and nothing queued, when full.

        ``force`` queues regardless (shutdown hands over what connections still hold).
        An empty queue takes any chunk, so one larger than the limit cannot stall.
        """
        with self._ready:
            full = (
                self._messages + len(entries) > self.max_messages
                or self._bytes + size > self.max_bytes
            )
            if full and self._messages and not force:
                self._refused = True
                return False
            self._chunks.append(((peer, entries), len(entries), size))
            self._messages += len(entries)
            self._bytes += size
            self._ready.notify()
            return True

    def take(self, *, max_messages: int, linger: float) -> list[Chunk]:
        """Wait for work; then gather up to ``max_messages`` (whole chunks), waiting at most
        ``linger`` seconds for more. Empty only when the queue is closed and empty."""
        with self._ready:
            while not self._chunks and not self._closed:
                self._ready.wait()
            deadline = time.monotonic() + linger
            while self._messages < max_messages and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0 or not self._ready.wait(left):
                    break
            taken: list[Chunk] = []
            count = 0
            while self._chunks and (not taken or count < max_messages):
                chunk, messages, size = self._chunks.popleft()
                taken.append(chunk)
                count += messages
                self._messages -= messages
                self._bytes -= size
            drained = self._refused and self._messages <= self.max_messages // 2
            if drained:
                self._refused = False
        if drained:
            self.on_drained()
        return taken

    def close(self) -> None:
        """No more offers will come: ``take`` hands out the rest, then returns empty."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()


class Writer:
    """Two threads that turn queued messages into stored events and dead letters: one
    parses the next batch while the other stores the last. The database's part runs
    outside the GIL (SQLite stores a batch in one statement), so the two overlap: 15 %
    more lines a second than one thread doing both, measured with the real parser.
    """

    def __init__(
        self,
        queue: MessageQueue,
        database: Database,
        clock: Clock,
        *,
        batch_size: int = 2000,
        linger: float = 0.1,
    ) -> None:
        self.queue = queue
        self.database = database
        self.clock = clock
        self.batch_size = batch_size
        self.linger = linger
        self.unstored = 0  # messages given up on at shutdown (the database never came back)
        self._give_up = threading.Event()
        # One parsed batch waits while the one before it is stored: memory stays bounded,
        # and a stuck database stops the parser, which fills the queue, which pushes back.
        self._parsed: Queue[list[Batch] | None] = Queue(maxsize=1)
        self._threads = (
            threading.Thread(target=self._parse, name="wachter-syslog-parser", daemon=True),
            threading.Thread(target=self._store_parsed, name="wachter-syslog-writer", daemon=True),
        )

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, *, grace: float) -> None:
        """Store everything queued; after ``grace`` seconds of a failing database, give up."""
        self.queue.close()
        deadline = time.monotonic() + grace
        for thread in self._threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            self._give_up.set()
            for thread in self._threads:
                thread.join()
        if self.unstored:
            log.error(
                "syslog messages not stored at shutdown: the database stayed unavailable",
                extra={"wachter.syslog.unstored": self.unstored},
            )

    def _parse(self) -> None:
        try:
            while chunks := self.queue.take(max_messages=self.batch_size, linger=self.linger):
                self._parsed.put(build_batches(chunks, self.clock.now()))
        finally:
            self._parsed.put(None)  # the queue is closed and empty: the writer may end

    def _store_parsed(self) -> None:
        while (batches := self._parsed.get()) is not None:
            if not self._store(batches):
                self.unstored += sum(len(batch) for batch in batches)

    def _store(self, batches: Sequence[Batch]) -> bool:
        """One transaction for all ``batches``; retried until it commits (or we give up)."""
        pause = 0.1
        while True:
            try:
                with self.database.writer() as session:
                    for batch in batches:
                        batch.store(session)
                return True
            # Any failure: a bug or an unusable database. Dropping the batch would lose
            # events silently, so keep it and retry; the full queue holds the senders back.
            except Exception as error:
                log.error(
                    "storing syslog messages failed; retrying",
                    extra={**_describe(error), "wachter.retry_in_s": pause},
                )
            if self._give_up.wait(pause):
                return False
            pause = min(pause * 2, MAX_RETRY_PAUSE)


def _describe(error: Exception) -> dict[str, Any]:
    """Error fields safe to log: driver messages about connections and locks, never the
    message of an error about data (it may quote the events)."""
    fields: dict[str, Any] = {"error.type": type(error).__name__}
    if isinstance(error, OperationalError | InterfaceError):
        fields["error.message"] = str(error.orig).strip().split("\n", 1)[0][:300]
    elif isinstance(error, DBAPIError):
        fields["error.type"] += f" ({type(error.orig).__name__})"
    return fields


def build_batches(chunks: Sequence[Chunk], now: datetime) -> list[Batch]:
    """The chunks parsed, as one ``Batch`` per sender (a batch has one origin)."""
    batches: dict[Peer, Batch] = {}
    for peer, entries in chunks:
        batch = batches.get(peer)
        if batch is None:
            batch = batches[peer] = Batch(
                receiver=peer.receiver, source="syslog", ingested=now, origin=peer.address
            )
        for entry in entries:
            if isinstance(entry, Rejection):
                batch.reject(entry.reason, entry.raw)
            else:
                add_message(batch, entry, peer, now)
    return list(batches.values())


def add_message(batch: Batch, raw: bytes, peer: Peer, now: datetime) -> None:
    """Parse one framed message into ``batch``: an event, or a dead letter with the reason."""
    flags: tuple[Flag, ...] = ()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:  # kept, readable as \xNN, and flagged: never dropped
        text, flags = raw.decode("utf-8", "backslashreplace"), _INVALID_UTF8
    try:
        document = parse_syslog(text, received=now)
        _record_sender(document, peer)
        key = content_key("syslog", raw)
        batch.add(document, event_key=key, raw=raw, flags=flags, key_by_time=True)
    except ParseError as error:
        batch.reject(error.reason, raw)
    # A bug in parsing or normalising costs one message its event, never the receiver its
    # life (§5.8 #58): the writer threads must not die on input.
    except Exception as error:
        log.error(
            "a syslog message could not be processed",  # no message text: it may be personal
            extra={
                "error.type": type(error).__name__,
                "error.stack_trace": "".join(traceback.format_tb(error.__traceback__)),
            },
        )
        batch.reject(f"the message could not be processed ({type(error).__name__})", raw)


def _record_sender(document: Document, peer: Peer) -> None:
    """What the receiver itself knows about the sender. It overrides anything the message
    claims under the same names: the message is the sender's word, the socket is not."""
    _put(document, ("log", "source", "address"), peer.address)
    if peer.tls_subject is not None:
        _put(document, ("tls", "client", "subject"), peer.tls_subject)


def _put(document: Document, path: tuple[str, ...], value: str) -> None:
    target = document
    for name in path[:-1]:
        inner = target.get(name)
        if not isinstance(inner, dict):
            inner = target[name] = {}
        target = inner
    target[path[-1]] = value
