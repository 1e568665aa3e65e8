"""(being written)"""

from __future__ import annotations

from pathlib import Path

from ingest.parsers.base import FileParser

NAME = "badge-csv"


def parsers(mapping: Path | None) -> tuple[FileParser, ...]:
    """The badge parser when a mapping is configured (it cannot guess columns without one)."""
    return ()


def parser(mapping: Path | None) -> FileParser:
    raise NotImplementedError
