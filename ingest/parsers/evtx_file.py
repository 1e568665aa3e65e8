"""Native Windows ``.evtx`` files, read with the ``evtx`` package (pyevtx-rs, Rust).

Binary XML is no format to parse by hand; ``evtx`` is fast, maintained and turns each
record into JSON. That JSON is nested as the XML was (``Event.System.TimeCreated
.#attributes.SystemTime``); it is flattened by ``detection_rules`` the way Chainsaw,
Hayabusa and Zircolite flatten it (and the shared test data was), so Sigma's Windows rules
see the field names they expect, and then goes through the ``windows`` parser like any flat
EVTX-JSON.

A file's position is the number of records read, so an import can resume after the last
record it stored. The library cannot seek to a record: resuming re-reads (but does not
decode) the records before it. A record the library cannot decode becomes a ParseError
record and the reading goes on; a file that is no EVTX at all is refused as a whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import evtx
import orjson

from detection_rules import evtx_error_reason, flatten_evtx_record
from ingest.parsers.base import Document, FileRecord, ParseError
from ingest.parsers.windows import WindowsParser

MAGIC = b"ElfFile\x00"
FILE_HEADER_BYTES = 4096
CHUNK_BYTES = 65536
_WINDOWS = WindowsParser()


class EvtxFileParser:
    name = "evtx"
    description = "Windows event log files (.evtx)"
    positions_are_bytes = False

    def detect_file(self, path: Path, head: bytes) -> bool:
        return head.startswith(MAGIC)

    def read_file(self, path: Path, *, start: int, received: datetime) -> Iterator[FileRecord]:
        """The records after the first ``start``; raises ParseError if ``path`` is no EVTX."""
        records = _open(path)
        position = 0
        while True:
            try:
                record = next(records)
            except StopIteration:
                break
            except (RuntimeError, OSError, ValueError) as error:  # one record or chunk
                position += 1
                if position > start:
                    yield _unreadable(error, position)
                continue
            position += 1
            if position > start:
                yield _file_record(record, position, received)
        truncated = _truncated_bytes(path)
        if truncated:
            reason = f"the file ends inside a chunk: its last {truncated} bytes cannot be read"
            yield FileRecord(position, "truncated", ParseError(reason), raw="")


def _open(path: Path) -> Iterator[Any]:
    try:
        with path.open("rb") as file:
            magic = file.read(len(MAGIC))
    except OSError as error:
        raise ParseError(f"cannot open the file: {error.strerror or error}") from None
    if magic != MAGIC:
        raise ParseError("not an EVTX file: it does not start with the ElfFile signature")
    try:
        # One thread keeps the records in file order, so positions mean the same each run.
        parser = evtx.PyEvtxParser(str(path), number_of_threads=1)
        records: Iterator[Any] = parser.records_json()
    except (RuntimeError, OSError, ValueError) as error:
        raise ParseError(f"cannot read the EVTX file: {evtx_error_reason(error)}") from None
    return records


def _file_record(record: Any, position: int, received: datetime) -> FileRecord:
    record = record if isinstance(record, dict) else {}
    data = record.get("data")
    key = str(record.get("event_record_id", f"#{position}"))
    raw = data if isinstance(data, str) else ""
    try:
        flat = flatten_record(orjson.loads(raw))
        result: Document | ParseError = _WINDOWS.parse_document(flat, received=received)
    except orjson.JSONDecodeError:
        result = ParseError("the evtx library returned a record that is not JSON")
    except ParseError as error:
        result = error
    return FileRecord(position=position, key=key, result=result, raw=raw)


def _unreadable(error: Exception, position: int) -> FileRecord:
    reason = evtx_error_reason(error)
    number = re.search(r"record number (\d+)", reason)
    key = number.group(1) if number else f"#{position}"
    return FileRecord(position, key, ParseError(f"unreadable record: {reason}"), raw="")


def _truncated_bytes(path: Path) -> int:
    """Bytes after the last whole chunk: records there are lost, so say so."""
    try:
        size = path.stat().st_size
    except OSError:
        return 0
    return max(size - FILE_HEADER_BYTES, 0) % CHUNK_BYTES


def flatten_record(record: Any) -> Document:
    """An ``evtx`` JSON record as flat fields: System first, then EventData/UserData.

    The flattening is the detection side's (Sigma's Windows field layout), so events stored
    by ingest and events read by ``wachter detect`` have the same fields.
    """
    flat = flatten_evtx_record(record)
    if flat is None:
        raise ParseError("the record has no Event element")
    return flat


PARSERS: tuple[EvtxFileParser, ...] = (EvtxFileParser(),)
