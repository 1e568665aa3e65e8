"""The CEF sending job: alert feed entries to a SOC collector as syslog over TCP (or TLS).

At least once, in feed order. Each run reads up to ``BATCH`` entries after the ``cef``
cursor, sends them over one new connection, and moves the cursor past them only when the
whole batch was written and the connection closed cleanly. A failure leaves the cursor
where it was: the same entries go again on a later run, so the collector may see an
entry twice, never miss one.

Syslog over TCP has no acknowledgement (RFC 6587). "Closed cleanly" is the most TCP can
say: every byte was handed to the kernel, our end was shut (TLS close_notify, then FIN),
and the collector closed its end without a reset. A collector that exits with our bytes
unread resets the connection instead (the kernel does that for unread data), and that
counts as a failure.

The network is never used inside a write transaction: the entries are read, the read is
ended (on SQLite that releases nothing but a snapshot; the job's transaction would
otherwise hold the write lock for as long as a slow collector takes), and the cursor is
moved in a new transaction afterwards.

After a failure the process waits before it tries again (5 s, 30 s, 2 min, then every
5 min), so a collector that is down is not hammered every two seconds; the first success
resets the wait. The wait lives in the process: a restart tries at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import ssl
import struct
import termios
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from incidents.feeds.cef import feed_entry_message, octet_counted
from incidents.feeds.cursors import advance_cursor, entries_after_cursor

CURSOR = "cef"
BATCH = 500
CONNECT_TIMEOUT_S = 5.0
SEND_TIMEOUT_S = 15.0
CLOSE_TIMEOUT_S = 5.0
BACKOFF_STEPS = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=5),
)
MAX_DRAINED_BYTES = 64 * 1024  # a collector that talks back is ignored, up to this much

log = logging.getLogger("wachter.incidents.cef")


@dataclass
class Backoff:
    """How long to leave the collector alone after failures (one per process)."""

    failures: int = 0
    retry_at: datetime | None = None

    def is_waiting(self, now: datetime) -> bool:
        return self.retry_at is not None and now < self.retry_at

    def failed(self, now: datetime) -> timedelta:
        delay = BACKOFF_STEPS[min(self.failures, len(BACKOFF_STEPS) - 1)]
        self.failures += 1
        self.retry_at = now + delay
        return delay

    def succeeded(self) -> None:
        self.failures, self.retry_at = 0, None


_PROCESS_BACKOFF = Backoff()


def send_cef(
    session: Session,
    *,
    now: datetime,
    target: tuple[str, int],
    tls: bool,
    ca_file: Path | None,
    backoff: Backoff | None = None,
    hostname: str | None = None,
) -> bool:
    """Send the next batch of alert changes; True when a full batch went (more may wait).

    Give it a session with nothing pending (the job's): it ends the session's read
    transaction before it opens the connection.
    """
    waiting = _PROCESS_BACKOFF if backoff is None else backoff
    if waiting.is_waiting(now):
        return False
    position, entries = entries_after_cursor(session, CURSOR, limit=BATCH)
    if not entries:
        return False
    host = socket.gethostname() if hostname is None else hostname
    payload = b"".join(octet_counted(feed_entry_message(e, hostname=host)) for e in entries)
    last_id = entries[-1].id
    session.commit()  # ends the read: no transaction is open while the network is used
    try:
        deliver(payload, target=target, tls=tls, ca_file=ca_file)
    except OSError as error:  # refused, reset, timed out, TLS refused (ssl.SSLError)
        delay = waiting.failed(now)
        log.warning(
            "CEF delivery to %s:%s failed (%s); %d entries kept for a retry in %d s",
            target[0],
            target[1],
            _reason(error),
            len(entries),
            int(delay.total_seconds()),
            extra={"wachter.cef.failures": waiting.failures},
        )
        return False
    waiting.succeeded()
    if not advance_cursor(session, CURSOR, position=position, to=last_id, now=now):
        log.warning("the CEF cursor was moved by another sender; not moving it back")
    log.info("CEF: %d alert changes sent", len(entries), extra={"wachter.cef.position": last_id})
    return len(entries) == BATCH


def deliver(payload: bytes, *, target: tuple[str, int], tls: bool, ca_file: Path | None) -> None:
    """Write ``payload`` on a new connection and close it cleanly; ``OSError`` otherwise."""
    host, port = target
    with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S) as connection:
        connection.settimeout(SEND_TIMEOUT_S)
        if not tls:
            connection.sendall(payload)
            _close_cleanly(connection)
            return
        context = client_context(ca_file)
        with context.wrap_socket(connection, server_hostname=host) as stream:
            stream.sendall(payload)
            stream.settimeout(CLOSE_TIMEOUT_S)
            try:
                plain = stream.unwrap()  # our close_notify, then the collector's
            except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
                _wait_until_acknowledged(stream)  # it closed without a close_notify of its own
                return
            _close_cleanly(plain)


def client_context(ca_file: Path | None) -> ssl.SSLContext:
    """TLS 1.2 or later; the collector's certificate checked against ``ca_file`` (or the
    system's trust store) and against the host name or address we connect to."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _close_cleanly(connection: socket.socket) -> None:
    """Shut our end, wait for the collector to close its end, and for every byte we sent
    to have been acknowledged; raise ``OSError`` for a reset or what was not taken."""
    connection.settimeout(CLOSE_TIMEOUT_S)
    with contextlib.suppress(OSError):  # already shut by the peer's reset: seen below
        connection.shutdown(socket.SHUT_WR)
    drained = 0
    try:
        while drained <= MAX_DRAINED_BYTES:
            data = connection.recv(4096)
            if not data:
                break
            drained += len(data)
    except TimeoutError:
        log.debug("the CEF collector kept the connection open after the batch")
    _wait_until_acknowledged(connection)


def _wait_until_acknowledged(connection: socket.socket) -> None:
    """A collector that closed before our batch arrived (one over its connection limit,
    say) answers the batch with a reset, possibly after we saw its close: wait until its
    TCP acknowledged every byte we sent (Linux's TIOCOUTQ counts those not yet), or fail."""
    outq = getattr(termios, "TIOCOUTQ", None)
    deadline = time.monotonic() + CLOSE_TIMEOUT_S
    while True:
        error = connection.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            raise OSError(error, os.strerror(error))
        if outq is None:
            return  # not Linux: the reset, if any, was seen while draining
        queued = fcntl.ioctl(connection.fileno(), outq, b"\0\0\0\0")
        if struct.unpack("i", queued)[0] == 0:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the collector did not acknowledge the whole batch")
        time.sleep(0.01)


def _reason(error: OSError) -> str:
    """The error's kind and text, short: no payload is ever part of it."""
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}"[:200]
