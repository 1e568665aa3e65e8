"""Reading log files: the format guessed or given, records out, and resumable ingest.

Every format comes out as ``FileRecord``s (position to resume from, a key unique in the
file, the parsed document or the reason it failed, the raw record), so ``wachter
ingest`` and ``wachter parse`` treat text logs, JSON lines, ``.evtx`` and badge CSV alike.

Resuming: a checkpoint per file path remembers the position reached, updated in the same
transaction as the events it covers, with a hash of the file's first bytes: a file that
grew resumes, a rotated or replaced one is read from the start. Event ids are a hash of
the record's position and content, so even a file read again from the start (checkpoint
gone, file renamed) stores nothing twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson
from sqlalchemy.orm import Session

from core import InvalidInput
from core.i18n import N_
from ingest.batches import Batch, Receipt
from ingest.models import FileCheckpoint
from ingest.normalise import content_key, quarantine_reserved
from ingest.parsers import (
    DocumentParser,
    FileParser,
    FileRecord,
    LineParser,
    ParseError,
    Parser,
    ParserOptions,
    detect_document_parser,
    detect_file_parser,
    detect_line_parser,
    format_names,
    get_parser,
)
from ingest.timestamps import Flag

FINGERPRINT_BYTES = 64 * 1024
MAX_LINE_BYTES = 64 * 1024
SAMPLE_LINES = 50
JSON_LINES = "json-lines"  # what a file of JSON objects is read as: each line detected


@dataclass(frozen=True)
class FileFormat:
    """How to read one file: a parser, or ``JSON_LINES`` (a document parser per line)."""

    name: str
    parser: Parser | None

    @property
    def positions_are_bytes(self) -> bool:
        """Line formats resume at a byte offset; file parsers say what theirs count."""
        if isinstance(self.parser, FileParser):
            return self.parser.positions_are_bytes
        return True


def path_hash(path: Path) -> str:
    return hashlib.sha256(str(path.resolve()).encode("utf-8", "surrogateescape")).hexdigest()


def prefix_hash(path: Path, length: int) -> str:
    """SHA-256 of the first ``length`` bytes (at most 64 KiB) of ``path``."""
    with path.open("rb") as handle:
        return hashlib.sha256(handle.read(min(length, FINGERPRINT_BYTES))).hexdigest()


def resume_position(session: Session, path: Path, file_format: FileFormat) -> int:
    """Where a new run over ``path`` starts: the checkpoint's position if it is still valid."""
    checkpoint = session.get(FileCheckpoint, path_hash(path))
    if checkpoint is None or checkpoint.format != file_format.name:
        return 0
    by_bytes = file_format.positions_are_bytes
    if by_bytes and checkpoint.offset > path.stat().st_size:
        return 0  # shorter than what we read: truncated or replaced
    if prefix_hash(path, _prefix_length(checkpoint.offset, by_bytes)) != checkpoint.prefix_hash:
        return 0
    return checkpoint.offset


def _prefix_length(offset: int, by_bytes: bool) -> int:
    # For record-based formats (.evtx) the position is no byte count: hash the whole head.
    return offset if by_bytes else FINGERPRINT_BYTES


def choose_format(path: Path, requested: str | None, options: ParserOptions) -> FileFormat:
    """The parser for ``path``: the one named, or a guess from the file's first lines."""
    if requested:
        return FileFormat(requested, get_parser(requested, options))
    with path.open("rb") as handle:
        head = handle.read(4096)
    file_parser = detect_file_parser(path, head, options)
    if file_parser is not None:
        return FileFormat(file_parser.name, file_parser)
    if head.lstrip().startswith(b"{"):
        return FileFormat(JSON_LINES, None)
    line_parser = detect_line_parser(_sample_lines(path))
    if line_parser is None:
        raise InvalidInput(
            N_("Cannot tell the format of %(file)s; name it with --format (one of %(choices)s)."),
            field="format",
            file=path.name,
            choices=", ".join(format_names()),
        )
    return FileFormat(line_parser.name, line_parser)


def _sample_lines(path: Path) -> list[str]:
    lines: list[str] = []
    with path.open("rb") as handle:
        for raw in handle:
            lines.append(raw[:MAX_LINE_BYTES].decode("utf-8", "backslashreplace").rstrip("\r\n"))
            if len(lines) >= SAMPLE_LINES:
                break
    return lines


def read_records(
    path: Path, file_format: FileFormat, *, start: int, received: datetime
) -> Iterator[FileRecord]:
    """The file's records from ``start`` (a byte offset, or a record number for .evtx)."""
    parser = file_format.parser
    if isinstance(parser, FileParser):
        yield from parser.read_file(path, start=start, received=received)
        return
    with path.open("rb") as handle:
        handle.seek(start)
        offset = start
        for raw in handle:
            key, offset = str(offset), offset + len(raw)
            if not raw.strip():
                continue
            yield _line_record(raw, parser, offset=offset, key=key, received=received)


def _line_record(
    raw: bytes, parser: Parser | None, *, offset: int, key: str, received: datetime
) -> FileRecord:
    line = raw.rstrip(b"\r\n")
    if len(line) > MAX_LINE_BYTES:
        reason = f"line longer than {MAX_LINE_BYTES // 1024} KiB ({len(line)} bytes)"
        return FileRecord(offset, key, ParseError(reason), _as_text(line))
    text, flags = _decode(line)
    try:
        if isinstance(parser, LineParser):
            document = parser.parse_line(text, received=received)
        else:
            # JSON cannot carry \xNN: undecodable bytes become U+FFFD (flagged) there.
            json_text = line.decode("utf-8", "replace") if flags else text
            document = _parse_json_line(json_text, parser, received)
    except ParseError as error:
        return FileRecord(offset, key, error, text)
    if flags:
        document.setdefault("wachter", {}).setdefault("flags", []).extend(flags)
    return FileRecord(offset, key, document, text)


def _parse_json_line(line: str, parser: Parser | None, received: datetime) -> dict[str, object]:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise ParseError(f"not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise ParseError("expected a JSON object on each line")
    quarantine_reserved(value)
    chosen = parser if isinstance(parser, DocumentParser) else detect_document_parser(value)
    return chosen.parse_document(value, received=received)


def _decode(line: bytes) -> tuple[str, list[Flag]]:
    try:
        return line.decode("utf-8"), []
    except UnicodeDecodeError:
        return line.decode("utf-8", "backslashreplace"), [Flag.INVALID_UTF8]


def _as_text(raw: bytes) -> str:
    return raw[: 16 * 1024].decode("utf-8", "backslashreplace")


def event_key(record: FileRecord) -> str:
    """Position and content: the same record read again is the same event. The position
    comes first (zero-padded), so a file's events are neighbours in the unique index."""
    return f"{record.key.zfill(15)}:{content_key('file', record.key, record.raw)}"[:64]


def store_records(
    session: Session,
    records: list[FileRecord],
    *,
    path: Path,
    file_format: FileFormat,
    received: datetime,
) -> Receipt:
    """Store one stretch of a file and move its checkpoint, in the caller's transaction."""
    batch = Batch(receiver="file", source="file", ingested=received, origin=path.name)
    for record in records:
        if isinstance(record.result, ParseError):
            batch.reject(record.result.reason, record.raw)
        else:
            batch.add(record.result, event_key=event_key(record), raw=record.raw)
    receipt = batch.store(session)
    key = path_hash(path)
    checkpoint = session.get(FileCheckpoint, key, with_for_update=True)
    if checkpoint is None:
        checkpoint = FileCheckpoint(path_hash=key, events=0, rejected=0)
        session.add(checkpoint)
    by_bytes = file_format.positions_are_bytes
    position = records[-1].position if records else 0
    checkpoint.path = str(path)
    checkpoint.format = file_format.name
    checkpoint.offset = position
    checkpoint.prefix_hash = prefix_hash(path, _prefix_length(position, by_bytes))
    checkpoint.events += receipt.accepted
    checkpoint.rejected += len(receipt.rejected)
    checkpoint.updated_at = received
    return receipt
