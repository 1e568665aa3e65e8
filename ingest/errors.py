"""Errors of log collection that reach people (the console, the API), on ``core.errors``.

    InvalidInput (core)
    ├── InvalidQuery        a search query that cannot be run; ``position`` says where
    └── InvalidTimeRange    a ``since``/``until`` bound that is not a time

Messages are English, marked with ``core.i18n.N_``; the web layer translates them.
"""

from __future__ import annotations

from core import InvalidInput


class InvalidQuery(InvalidInput):
    """The query text cannot be read or asks for what the search does not do.

    ``position`` is the 0-based offset in the query where reading stopped (``None`` when
    the whole query is the problem, e.g. its length); messages show it 1-based.
    """

    def __init__(self, message: str, *, position: int | None = None, **params: object) -> None:
        super().__init__(message, field="q", **params)
        self.position = position


class InvalidTimeRange(InvalidInput):
    """``since``, ``until`` (or a time inside the query) is not a time we can read."""
