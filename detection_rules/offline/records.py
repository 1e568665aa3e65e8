"""What the readers of ``wachter detect`` hand out: events, and the records they had to skip.

A parallel run (``--jobs N``) reads the same files into ``Chunk``s instead: blocks of raw JSON
lines that a worker process parses, batches of events parsed already (JSON arrays, .evtx),
and skipped records where the reader found them, so that they are reported in input order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Event = dict[str, Any]


@dataclass(frozen=True)
class BadRecord:
    """A record that was skipped: ``path:line: reason`` (EVTX: ``path: record N: reason``).

    ``line`` is None when the problem is the file's (it cannot be read, it ends early).
    """

    path: str
    line: int | None
    reason: str
    unit: str = "line"

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.path}: {self.reason}"
        if self.unit == "record":
            return f"{self.path}: record {self.line}: {self.reason}"
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class LineBlock:
    """Whole JSON lines of ``path`` as read, not parsed; the first is line ``first_line``.

    Only the last block of a file may end without a line break.
    """

    path: str
    first_line: int
    data: bytes


@dataclass(frozen=True, slots=True)
class EventBatch:
    """Events of ``path`` parsed in the reading process, records skipped among them in place."""

    path: str
    items: list[Event | BadRecord]


Chunk = LineBlock | EventBatch | BadRecord
Report = Callable[[BadRecord], None]
Progress = Callable[[int], None]
