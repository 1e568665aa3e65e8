"""What the readers of ``wachter detect`` hand out: events, and the records they had to skip."""

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


Report = Callable[[BadRecord], None]
Progress = Callable[[int], None]
