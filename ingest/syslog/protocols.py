"""The socket side of the syslog receivers: asyncio protocols on the receivers' loop thread.

``Intake`` is what all of them share: the queue to the writer, the open connections (with
their cap and idle timeout), the connections waiting for room in the queue, and counters.
Everything here runs on the loop thread only, except ``Intake.queue``, which is thread-safe.

Back-pressure: a TCP or TLS connection whose messages the queue refuses keeps them and
stops reading (``pause_reading``); the kernel's receive window then fills and the sender's
``send`` blocks. When the writer has drained the queue, waiting connections hand their
messages over and read again. UDP has no way to push back: a datagram the queue refuses
is counted and dropped, and a warning with the count (never the content) is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
from collections import deque
from collections.abc import Sequence
from typing import Any

from cryptography import x509

from ingest.syslog.framing import MAX_MESSAGE, StreamFramer, oversize, strip_trailer
from ingest.syslog.writer import Entry, MessageQueue, Peer

log = logging.getLogger("wachter.syslog")
WARNING_INTERVAL = 10.0  # seconds: at most one "dropped"/"refused" warning per kind


class Tally:
    """Counts occurrences and logs a warning with the count, at most once per interval."""

    def __init__(self, message: str, field: str, *, loop: asyncio.AbstractEventLoop) -> None:
        self.message = message
        self.field = field
        self.total = 0
        self._loop = loop
        self._unreported = 0
        self._reported_at = -WARNING_INTERVAL

    def add(self) -> None:
        self.total += 1
        self._unreported += 1
        if self._loop.time() - self._reported_at >= WARNING_INTERVAL:
            self.report()

    def report(self) -> None:
        if self._unreported:
            log.warning(self.message, extra={self.field: self._unreported})
            self._unreported = 0
            self._reported_at = self._loop.time()


class Intake:
    """State the protocols share; see the module docstring."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        queue: MessageQueue,
        *,
        max_connections: int,
        idle_timeout: float,
    ) -> None:
        self.loop = loop
        self.queue = queue
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.connections: set[StreamConnection] = set()
        self.waiting: deque[StreamConnection] = deque()
        self.last_activity = loop.time()
        self.dropped = Tally(
            "syslog datagrams dropped: the queue to the database is full",
            "wachter.syslog.dropped_datagrams",
            loop=loop,
        )
        self.refused = Tally(
            f"syslog connections refused: {max_connections} are open",
            "wachter.syslog.refused_connections",
            loop=loop,
        )
        queue.on_drained = self._drained

    def _drained(self) -> None:  # on the parser thread
        # RuntimeError: the loop has closed (shutdown), so nothing waits any more.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.resume_waiting)

    def touch(self) -> float:
        self.last_activity = now = self.loop.time()
        return now

    def resume_waiting(self) -> None:
        """The writer made room: waiting connections hand over their messages, in turn."""
        while self.waiting:
            if not self.waiting[0].push():
                return  # full again; the next on_drained continues with this one
            self.waiting.popleft()

    def close_idle(self) -> None:
        deadline = self.loop.time() - self.idle_timeout
        for connection in list(self.connections):
            if connection.last_activity < deadline and not connection.pending:
                connection.close()

    def hand_over_all(self) -> None:
        """Shutdown: whatever connections hold goes to the queue, full or not (bounded by
        the connections' read size), and the connections close."""
        for connection in list(self.connections):
            connection.close(shutting_down=True)
        for connection in self.waiting:
            connection.push(force=True)
        self.waiting.clear()
        self.dropped.report()
        self.refused.report()

    @property
    def is_busy(self) -> bool:
        return bool(self.waiting)


def peer_address(transport: asyncio.BaseTransport) -> str:
    """The sender's IP (an IPv4 address arriving on an IPv6 socket shown as IPv4)."""
    peername: Any = transport.get_extra_info("peername")
    host = str(peername[0]) if isinstance(peername, tuple) and peername else "unknown"
    return _plain_host(host)


def _plain_host(host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped) if mapped else host


def tls_subject(transport: asyncio.BaseTransport) -> str | None:
    """The client certificate's subject (RFC 4514), when the client presented one."""
    ssl_object: ssl.SSLObject | None = transport.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
    return x509.load_der_x509_certificate(der).subject.rfc4514_string() if der else None


class StreamConnection(asyncio.Protocol):
    """One TCP or TLS connection: framing, hand-over to the queue, back-pressure."""

    def __init__(self, receiver: str, intake: Intake) -> None:
        self.receiver = receiver
        self.intake = intake
        self.framer = StreamFramer()
        self.pending: deque[tuple[Sequence[Entry], int]] = deque()
        self.peer = Peer(receiver, "unknown")
        self.transport: asyncio.Transport | None = None
        self.last_activity = intake.loop.time()
        self.paused = False
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.intake.touch()
        if len(self.intake.connections) >= self.intake.max_connections:
            self.closed = True
            self.intake.refused.add()
            transport.abort()
            return
        self.intake.connections.add(self)
        self.peer = Peer(self.receiver, peer_address(transport), tls_subject(transport))

    def data_received(self, data: bytes) -> None:
        self.last_activity = self.intake.touch()
        entries = self.framer.feed(data)
        if entries:
            self.pending.append((entries, len(data)))
            self.push()
        if self.framer.failed:
            self.close()

    def eof_received(self) -> bool | None:
        self._hand_over_rest(at_end_of_stream=True)
        return None  # the transport closes

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.intake.connections.discard(self)

    def close(self, *, shutting_down: bool = False) -> None:
        """Close after handing over what was read. At shutdown a last unterminated line is
        incomplete (we cut it off), and TLS skips its closing handshake."""
        if self.transport is not None and not self.closed:
            self._hand_over_rest(at_end_of_stream=not shutting_down)
            if shutting_down:
                self.transport.abort()
            else:
                self.transport.close()

    def _hand_over_rest(self, *, at_end_of_stream: bool) -> None:
        rest = self.framer.finish(at_end_of_stream=at_end_of_stream)
        if rest:
            self.pending.append((rest, sum(len(e) for e in rest if isinstance(e, bytes))))
            self.push()

    def push(self, *, force: bool = False) -> bool:
        """Offer the pending messages; when the queue refuses, stop reading and wait."""
        while self.pending:
            entries, size = self.pending[0]
            if not self.intake.queue.offer(self.peer, entries, size, force=force):
                if not self.paused:
                    self.paused = True
                    if self.transport is not None:
                        self.transport.pause_reading()
                    self.intake.waiting.append(self)
                return False
            self.pending.popleft()
        if self.paused:
            self.paused = False
            if self.transport is not None and not self.closed:
                self.transport.resume_reading()
        return True


class DatagramReceiver(asyncio.DatagramProtocol):
    """UDP: one datagram is one message."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self._last_host = ""
        self._last_peer = Peer("syslog-udp", "unknown")

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.intake.touch()
        message = strip_trailer(data)
        if not message:
            return
        if addr[0] != self._last_host:
            self._last_host = host = str(addr[0])
            self._last_peer = Peer("syslog-udp", _plain_host(host))
        entry: Entry = message if len(message) <= MAX_MESSAGE else oversize(len(message), message)
        if not self.intake.queue.offer(self._last_peer, (entry,), len(message)):
            self.intake.dropped.add()

    def error_received(self, exc: Exception) -> None:
        log.debug("syslog UDP socket error", extra={"error.type": type(exc).__name__})
