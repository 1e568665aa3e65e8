"""Errors of the storage layer."""

from __future__ import annotations

import enum

from sqlalchemy.exc import DBAPIError, OperationalError


class StorageError(Exception):
    """A storage backend failed; the message is safe to log (no credentials)."""


class DatabaseUnavailable(StorageError):
    """The database cannot be reached or opened."""


class DatabaseFault(enum.StrEnum):
    """What went wrong in the database, when it is the database's state, not the request."""

    BUSY = "busy"  # SQLite's write lock held past the busy timeout
    FULL = "full"  # the disk (or SQLite's page limit) is full
    UNREACHABLE = "unreachable"  # PostgreSQL down, restarting or the connection lost


# PostgreSQL SQLSTATEs: connection exceptions (class 08), shutdown and start-up (57P0x).
_UNREACHABLE_STATES = frozenset({"08000", "08001", "08003", "08004", "08006", "57P01", "57P02",
                                 "57P03"})  # fmt: skip
_DISK_FULL_STATE = "53100"
# SQLite's primary result codes (the part after SQLITE_: BUSY_SNAPSHOT is BUSY).
_SQLITE_FAULTS = {
    "BUSY": DatabaseFault.BUSY,
    "LOCKED": DatabaseFault.BUSY,
    "FULL": DatabaseFault.FULL,
}


def database_fault(error: BaseException) -> DatabaseFault | None:
    """The fault behind a driver error raised through SQLAlchemy, or None for other errors.

    Read from the drivers' own codes (sqlite3's ``sqlite_errorname``, psycopg's ``sqlstate``),
    never from message text, so a future wording or language changes nothing.
    """
    if not isinstance(error, DBAPIError):
        return None
    name = getattr(error.orig, "sqlite_errorname", None)
    if isinstance(name, str):
        return _SQLITE_FAULTS.get(name.split("_")[1] if name.count("_") else name)
    state = getattr(error.orig, "sqlstate", None)
    if state == _DISK_FULL_STATE:
        return DatabaseFault.FULL
    # psycopg's failures to connect carry no state; other errors without one are not faults.
    lost = (
        state is None
        and isinstance(error, OperationalError)
        and type(error.orig).__module__.startswith("psycopg")
    )
    if state in _UNREACHABLE_STATES or error.connection_invalidated or lost:
        return DatabaseFault.UNREACHABLE
    return None
