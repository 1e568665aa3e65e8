"""``SyslogReceivers``: the UDP, TCP and TLS listeners of one process, and their writer.

The sockets live on an asyncio loop in a thread of their own, so ``serve`` and ``worker``
run them beside waitress and APScheduler. Listeners set ``SO_REUSEPORT``: several
processes on one host (``serve`` plus workers) share a port, and the kernel spreads
connections and datagrams over them.

``stop`` first lets what has already arrived be read (until the sockets are quiet, within
``Limits.input_grace``), then closes listeners and connections, hands everything still
held to the writer, and returns once the writer has stored it (a database that stays
unusable for ``Limits.database_grace`` makes it give up, with an error in the log).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from core import Clock, Settings
from core.errors import ConfigError
from ingest.syslog.protocols import DatagramReceiver, Intake, StreamConnection
from ingest.syslog.writer import MessageQueue, Writer
from storage import Database

log = logging.getLogger("wachter.syslog")
UDP_RECEIVE_BUFFER = 8 * 1024 * 1024  # asked of the kernel; net.core.rmem_max caps it
QUIET = 0.1  # seconds without input after which stop() considers the sockets drained
# A connection that has not finished its TLS handshake by then is closed (asyncio: 60 s);
# it does not count against max_connections until it has.
TLS_HANDSHAKE_TIMEOUT = 10.0


class ReceiverStartError(ConfigError):
    """A listener could not start (port taken, no permission, unreadable certificate)."""


@dataclass(frozen=True)
class Listener:
    """A bound socket: ``kind`` is udp, tcp or tls; ``port`` is the real one (for port 0)."""

    kind: str
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Limits:
    """Tunables; the defaults suit production, tests shrink them."""

    queue_messages: int = 20_000
    queue_bytes: int = 64 * 1024 * 1024
    batch_size: int = 2000
    linger: float = 0.1  # seconds a batch waits to fill
    max_connections: int = 1000
    idle_timeout: float = 600.0  # seconds without data before a connection is closed
    # stop(): longest wait for the sockets to go quiet (twice: before and after closing
    # the listeners), then for a failing database before unstored messages are given up.
    input_grace: float = 2.0
    database_grace: float = 10.0


class SyslogReceivers:
    """The listeners ``settings`` asks for, their loop thread and their writer; see the
    module docstring. ``start`` once, ``stop`` once (a second ``stop`` does nothing)."""

    def __init__(
        self, settings: Settings, database: Database, clock: Clock, limits: Limits | None = None
    ) -> None:
        self.settings = settings
        self.limits = limits or Limits()
        self.queue = MessageQueue(
            max_messages=self.limits.queue_messages, max_bytes=self.limits.queue_bytes
        )
        self.writer = Writer(
            self.queue,
            database,
            clock,
            batch_size=self.limits.batch_size,
            linger=self.limits.linger,
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="wachter-syslog")
        self._thread.daemon = True
        self._intake = Intake(
            self._loop,
            self.queue,
            max_connections=self.limits.max_connections,
            idle_timeout=self.limits.idle_timeout,
        )
        self._closers: list[Callable[[], None]] = []
        self._sweeper: asyncio.Task[None] | None = None
        self._started = False

    @property
    def dropped_datagrams(self) -> int:
        return self._intake.dropped.total

    def start(self) -> tuple[Listener, ...]:
        """Open every configured listener; ``ReceiverStartError`` names the failing setting."""
        self._started = True
        self._thread.start()
        self.writer.start()
        try:
            listeners: tuple[Listener, ...] = self._call(self._open_all())
        except BaseException:
            self.stop()
            raise
        return listeners

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        try:
            self._call(self._shut_down())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()
            self.writer.stop(grace=self.limits.database_grace)

    def _call(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        # Bounded: binding takes milliseconds, shutting down at most twice input_grace.
        timeout = 2 * self.limits.input_grace + 30
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _open_all(self) -> tuple[Listener, ...]:
        settings, listeners = self.settings, []
        if settings.syslog_udp:
            listeners += await self._open_udp(settings.syslog_udp)
        if settings.syslog_tcp:
            listeners += await self._open_stream("WACHTER_SYSLOG_TCP", settings.syslog_tcp, None)
        if settings.syslog_tls:
            context = server_context(settings)
            listeners += await self._open_stream("WACHTER_SYSLOG_TLS", settings.syslog_tls, context)
        if listeners:
            self._sweeper = self._loop.create_task(self._close_idle_connections())
        return tuple(listeners)

    async def _open_udp(self, address: tuple[str, int]) -> list[Listener]:
        with _naming("WACHTER_SYSLOG_UDP", address):
            transport, _ = await self._loop.create_datagram_endpoint(
                lambda: DatagramReceiver(self._intake),
                local_addr=address,
                reuse_port=_shares(address),
            )
        self._closers.append(transport.close)
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
        return [_listener("udp", sock.getsockname())]

    async def _open_stream(
        self, variable: str, address: tuple[str, int], context: ssl.SSLContext | None
    ) -> list[Listener]:
        kind, receiver = ("tls", "syslog-tls") if context else ("tcp", "syslog-tcp")
        with _naming(variable, address):
            server = await self._loop.create_server(
                lambda: StreamConnection(receiver, self._intake),
                host=address[0],
                port=address[1],
                reuse_port=_shares(address),
                ssl=context,
                ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT if context else None,
                backlog=512,
            )
        self._closers.append(server.close)
        return [_listener(kind, sock.getsockname()) for sock in server.sockets]

    async def _close_idle_connections(self) -> None:
        interval = min(self.limits.idle_timeout / 4, 30.0)
        while True:
            await asyncio.sleep(interval)
            self._intake.close_idle()

    async def _shut_down(self) -> None:
        await self._until_quiet()  # accept what waits in the backlog, read what arrived
        for close in self._closers:
            close()
        await self._until_quiet()
        if self._sweeper:
            self._sweeper.cancel()
        self._intake.hand_over_all()
        await asyncio.sleep(0)  # let the transports finish closing

    async def _until_quiet(self) -> None:
        deadline = self._loop.time() + self.limits.input_grace
        while self._loop.time() < deadline:
            await asyncio.sleep(QUIET / 4)
            quiet = self._loop.time() - self._intake.last_activity >= QUIET
            if quiet and not self._intake.is_busy:
                return


def server_context(settings: Settings) -> ssl.SSLContext:
    """TLS 1.2 or newer with the configured certificate; client certificates required
    (and checked against the CA) when ``syslog_tls_client_ca`` is set."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not (settings.syslog_tls_cert and settings.syslog_tls_key):  # Settings refuses this too
        raise ReceiverStartError("WACHTER_SYSLOG_TLS_CERT", "needs a certificate and a key")
    # OpenSSL's own words ("[SSL] PEM lib (_ssl.c:3905)") do not help; say what it means.
    try:
        context.load_cert_chain(settings.syslog_tls_cert, settings.syslog_tls_key)
    except ssl.SSLError:
        problem = "not a PEM certificate with its matching private key (WACHTER_SYSLOG_TLS_KEY)"
        raise ReceiverStartError("WACHTER_SYSLOG_TLS_CERT", problem) from None
    except OSError as error:
        raise ReceiverStartError(
            "WACHTER_SYSLOG_TLS_CERT", f"cannot read the certificate or key: {_reason(error)}"
        ) from None
    if settings.syslog_tls_client_ca:
        try:
            context.load_verify_locations(cafile=settings.syslog_tls_client_ca)
        except ssl.SSLError:
            problem = "not a bundle of PEM CA certificates"
            raise ReceiverStartError("WACHTER_SYSLOG_TLS_CLIENT_CA", problem) from None
        except OSError as error:
            raise ReceiverStartError(
                "WACHTER_SYSLOG_TLS_CLIENT_CA", f"cannot read the CA bundle: {_reason(error)}"
            ) from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _shares(address: tuple[str, int]) -> bool:
    """SO_REUSEPORT for a configured port, so processes share it; never for port 0: a port
    the system picks is this process's alone (with SO_REUSEPORT, another process of the
    same user could be handed the same port and take half of the traffic)."""
    return address[1] != 0


@contextmanager
def _naming(variable: str, address: tuple[str, int]) -> Iterator[None]:
    """Turns an OSError while binding into a ``ReceiverStartError`` naming the setting."""
    try:
        yield
    except OSError as error:
        shown = _listener("", address).address
        raise ReceiverStartError(variable, f"cannot listen on {shown}: {_reason(error)}") from None


def _reason(error: BaseException) -> str:
    """One short line: the system's words for an errno (asyncio wraps them in more text)."""
    if isinstance(error, OSError) and error.errno:
        text = os.strerror(error.errno)
        return text[0].lower() + text[1:]
    return str(error).split("\n", 1)[0]


def _listener(kind: str, name: Any) -> Listener:
    return Listener(kind=kind, host=str(name[0]), port=int(name[1]))
