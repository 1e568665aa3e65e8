"""Who goes next for SQLite's write lock: the bulk writers give way to everyone else.

SQLite has one write lock and no queue: a waiter polls it from its busy handler, sleeping
up to 100 ms between tries. The bulk writers (HTTP ingest, the syslog writer) queue on a
lock of their own in this process and take SQLite's lock the moment the one before them
lets go, so under sustained ingest a console request or a background job that wants to
write found the lock taken at nearly every try: its page waited seconds (measured in
tests/reliability/test_overload.py). Here the others say that they wait, and a bulk writer
about to begin lets them go first, for at most ``GIVE_WAY_SECONDS``, so ingest still
moves when the others never stop coming. Nothing in SQLite or SQLAlchemy orders waiters
for a lock, hence this small class.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

GIVE_WAY_SECONDS = 0.5

# Set while a bulk writer's transaction runs in this thread: its own BEGIN does not count
# as one of the others waiting.
_bulk: ContextVar[bool] = ContextVar("wachter_bulk_writer", default=False)


class WriteTurns:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._others_waiting = 0

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Around a non-bulk writer's wait for the lock (a no-op in a bulk writer)."""
        if _bulk.get():
            yield
            return
        with self._changed:
            self._others_waiting += 1
        try:
            yield
        finally:
            with self._changed:
                self._others_waiting -= 1
                if not self._others_waiting:
                    self._changed.notify_all()

    @contextmanager
    def bulk(self, *, give_way: float = GIVE_WAY_SECONDS) -> Iterator[None]:
        """A bulk writer's turn: first let the waiting others go (at most ``give_way`` s)."""
        with self._changed:
            self._changed.wait_for(lambda: not self._others_waiting, timeout=give_way)
        token = _bulk.set(True)
        try:
            yield
        finally:
            _bulk.reset(token)
