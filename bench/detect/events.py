"""The events both sides of the detection benchmark read, numbered the same way.

An event's index is its 0-based line number in the file, so the peer's row ids and the
matcher's positions name the same event; a blank or non-JSON line is skipped but still
uses its number. ``--limit N`` means the first N lines.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import orjson

REPOSITORY = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(
    os.environ.get("WACHTER_TEST_SHARED_DATA") or REPOSITORY.parent / "shared" / "data"
)
BENCHMARK_EVENTS = SHARED_DATA / "events" / "otrf-security-datasets.jsonl.gz"
AGREEMENT_EVENTS = SHARED_DATA / "events" / "evtx-samples-hayabusa.jsonl.gz"


def open_lines(path: Path) -> IO[bytes]:
    """The file as bytes, gunzipped when it ends in ``.gz``."""
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def read_lines(path: Path, limit: int | None = None) -> Iterator[tuple[int, bytes]]:
    """``(index, raw line)`` of the first ``limit`` lines (all if ``None``); blank ones skipped."""
    with open_lines(path) as lines:
        for index, line in enumerate(lines):
            if limit is not None and index >= limit:
                break
            if line.strip():
                yield index, line


def read_events(path: Path, limit: int | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(index, event)`` for every JSON object among the first ``limit`` lines."""
    for index, line in read_lines(path, limit):
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict):
            yield index, event


def write_first_lines(source: Path, target: Path, limit: int) -> int:
    """Copy the first ``limit`` lines of ``source`` to ``target`` (gzip, fast level); count them.

    Both sides then read the very same file, whatever ``--limit`` says.
    """
    written = 0
    with open_lines(source) as lines, gzip.open(target, "wb", compresslevel=1) as out:
        for line in lines:
            if written >= limit:
                break
            out.write(line)
            written += 1
    return written
