"""Process wiring: the web server and the background work, started and stopped together.

waitress, not gunicorn: one process holds the web server, the collectors and the
scheduler (the embedded default), and waitress is a threaded pure-Python server that
runs the same on every platform (docs/adr/0003-waitress.md).
"""

from __future__ import annotations

import gc
import logging
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from flask import Flask
from waitress.server import create_server

from core import Settings
from wachter.heap import trimming_the_heap
from wachter.jobs import BackgroundJobs

log = logging.getLogger("wachter")
SIGNAL_POLL_SECONDS = 0.5


@contextmanager
def running(background: BackgroundJobs) -> Iterator[None]:
    """The background jobs, and the heap trimmer (``wachter.heap``), for the block."""
    background.start()
    try:
        with trimming_the_heap():
            yield
    finally:
        background.stop()


def serve_http(
    app: Flask, settings: Settings, *, host: str, port: int, announce: Callable[[str], None]
) -> None:
    """Serve until SIGTERM or SIGINT, then return after in-flight requests are done."""
    server = create_server(
        app,
        host=host,
        port=port,
        threads=settings.http_threads,
        ident="wachter",
        clear_untrusted_proxy_headers=True,
        # ProxyFix in the app decides which forwarded headers count; waitress passes them on.
        trusted_proxy=None,
    )
    bound_port = server.effective_port  # type: ignore[union-attr]
    shown_host = f"[{host}]" if ":" in host else host
    freeze_what_startup_made()
    with stop_on_sigterm():  # before announcing: a supervisor may signal as soon as it reads it
        announce(f"http://{shown_host}:{bound_port}")
        log.info("listening", extra={"server.address": host, "server.port": bound_port})
        server.run()


def freeze_what_startup_made() -> None:
    """Move every object made so far out of the garbage collector's sight (``gc.freeze``).

    Modules, the app, its compiled templates and the ORM's metadata live as long as the
    process; collecting the oldest generation walked all of them (near 300,000 objects), a
    pause of 110-140 ms with every request thread stopped, which bench/console saw as the
    console's slowest page views. Frozen, they are never scanned (nor freed: they would not
    be anyway); a full collection walks only what requests and jobs made since.
    """
    gc.collect()
    gc.freeze()


def wait_for_signal(announce: Callable[[], None]) -> None:
    """Announce, then block the main thread until SIGTERM or SIGINT (``wachter worker``)."""
    with stop_on_sigterm():
        try:
            announce()
            while True:
                # Short sleeps, not one long one: the kernel may hand SIGTERM to any thread
                # (a job's), and Python runs the handler only when the main thread next runs
                # bytecode. A one-hour sleep left a worker deaf to SIGTERM (seen in CI).
                time.sleep(SIGNAL_POLL_SECONDS)
        except (KeyboardInterrupt, SystemExit):
            return


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    def handle(_signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(0)  # waitress's loop ends cleanly on SystemExit/KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def dump_stacks_on_sigusr1() -> None:
    """``kill -USR1 <pid>`` logs every thread's stack: a stuck process says where it is.

    For the whole life of ``serve`` and ``worker``, so a stop that hangs can be asked too.
    A Python handler, not ``faulthandler.register(all_threads=True)``: that one reads the
    other threads' frames while they run and crashed the worker (SIGSEGV) in our tests.
    """
    signal.signal(signal.SIGUSR1, _log_stacks)


def _log_stacks(_signum: int, _frame: FrameType | None) -> None:
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    stacks = {
        f"{names.get(ident, 'unknown')} ({ident})": traceback.format_stack(frame)
        for ident, frame in sys._current_frames().items()
    }
    log.warning("thread stacks", extra={"wachter.threads": stacks})
