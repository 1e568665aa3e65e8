"""Shares of the server's request threads for heavy or long requests.

waitress has a fixed number of request threads (``WACHTER_HTTP_THREADS``). A request kind
that can hold a thread for long (an alert stream, an ingest batch under load) gets a
bounded share of them, so the console and the other API calls always find a free thread;
past its share a request is refused at once (the caller answers 429 or 503 with
``Retry-After``) instead of queueing behind the others.
"""

from __future__ import annotations

import threading

from flask import current_app

_CREATING = threading.Lock()


def thread_share(key: str, size: int) -> threading.BoundedSemaphore:
    """The app's semaphore ``key`` of ``size`` slots, made on first use (once per app)."""
    slots: threading.BoundedSemaphore | None = current_app.extensions.get(key)
    if slots is None:
        with _CREATING:
            slots = current_app.extensions.setdefault(key, threading.BoundedSemaphore(size))
    assert slots is not None
    return slots
