"""The collectors a service process runs beside the web server and the jobs: today the
syslog receivers (UDP, TCP, TLS), started and stopped with the process.

Both ``serve`` and ``worker`` collect; the listeners share their ports between processes
(``SO_REUSEPORT``), so adding workers adds receiving capacity on the same address.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from core import Clock, Settings, SystemClock
from ingest import Listener, ReceiverStartError, SyslogReceivers
from storage import Database
from wachter.cli.base import StartupFailed


@contextmanager
def collecting(
    settings: Settings, database: Database, *, clock: Clock | None = None
) -> Iterator[tuple[Listener, ...]]:
    """Run the receivers for the block; yields the bound listeners (real ports, for port 0).

    A listener that cannot start (port taken, no permission, unreadable certificate) ends
    start-up with one line naming the setting.
    """
    if not (settings.syslog_udp or settings.syslog_tcp or settings.syslog_tls):
        yield ()  # all switched off: no threads either
        return
    receivers = SyslogReceivers(settings, database, clock or SystemClock())
    try:
        listeners = receivers.start()
    except ReceiverStartError as error:
        raise StartupFailed(str(error)) from None
    try:
        yield listeners
    finally:
        receivers.stop()  # stores everything received before it returns


def announcement(listener: Listener) -> str:
    """The line ``serve`` and ``worker`` print for a listener."""
    return f"Syslog ({listener.kind}) receiving on {listener.address}"
