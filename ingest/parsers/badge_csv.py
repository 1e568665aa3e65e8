"""Badge and door access exports (CSV), read through a column mapping (TOML).

Every access-control product exports its own columns, so the user says which column is
which in a small TOML file (``docs/examples/badge-mapping.toml``): the time column is
required; badge, person, door, zone, result and controller are optional. Each row becomes
an ECS event (``event.category: intrusion_detection``, ``allowed``/``denied``, ``user.name``
the badge holder, ``observer.name`` the controller) with ``badge.*`` and ``door.*`` as our
own namespaces, and every column kept under its header name. A column whose header is a
name the document itself uses (``event``, ``user``, ``door``, …) is kept under ``labels``.

The file is read line by line in binary, so a record's position is the byte offset after
it and an import can resume there; the header is read again on resume. The standard
library's ``csv`` parses each row (hand-written is only the quote-balance check that lets
a quoted cell span lines).
"""

from __future__ import annotations

import codecs
import csv
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core import InvalidInput
from core.i18n import N_
from ingest.parsers.base import Document, FileRecord, ParseError
from ingest.parsers.json_lines import keyword
from ingest.timestamps import Flag, parse_time

NAME = "badge-csv"
DATASET = "badge.access"
MAX_ROW_BYTES = 64 * 1024
_COLUMNS = ("time", "badge", "person", "door", "zone", "result", "controller")
_FORMAT_KEYS = ("delimiter", "encoding", "time_format", "timezone")
_SECTIONS = {"columns": _COLUMNS, "results": ("granted", "denied"), "format": _FORMAT_KEYS}
# Where each mapped column goes in the ECS document.
_TARGETS = {
    "badge": ("badge", "id"),
    "person": ("user", "name"),
    "door": ("door", "name"),
    "zone": ("door", "zone"),
    "controller": ("observer", "name"),
}


@dataclass(frozen=True)
class BadgeMapping:
    """Which column is which, and how the file is written."""

    columns: dict[str, str]  # role (time, badge, …) → header name
    granted: frozenset[str]  # result values, case-folded
    denied: frozenset[str]
    delimiter: str = ","
    encoding: str = "utf-8"
    time_format: str | None = None  # strptime format; None: ISO 8601 or epoch
    timezone: tzinfo = UTC  # for times written without an offset


def load_mapping(path: Path) -> BadgeMapping:
    """The mapping in the TOML file ``path``; a bad file is refused with what is wrong."""
    try:
        with path.open("rb") as file:
            content = tomllib.load(file)
    except OSError as error:
        raise _mapping_error(
            N_("Cannot read the badge mapping %(path)s: %(problem)s."),
            path,
            problem=error.strerror or str(error),
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise _mapping_error(
            N_("The badge mapping %(path)s is not valid TOML: %(problem)s."), path, problem=error
        ) from None
    _check_keys(content, path)
    columns = {role: _string(content, "columns", role, path) for role in content.get("columns", {})}
    if not columns.get("time"):
        raise _mapping_error(
            N_("The badge mapping %(path)s has no time column: set time under [columns]."), path
        )
    results = content.get("results", {})
    return BadgeMapping(
        columns=columns,
        granted=_values(results, "granted", path),
        denied=_values(results, "denied", path),
        delimiter=_delimiter(content, path),
        encoding=_encoding(content, path),
        time_format=_string(content, "format", "time_format", path, required=False),
        timezone=_timezone(content, path),
    )


def _mapping_error(message: str, path: Path, **params: object) -> InvalidInput:
    return InvalidInput(message, field="mapping", path=str(path), **params)


def _check_keys(content: dict[str, Any], path: Path) -> None:
    for section, value in content.items():
        if section not in _SECTIONS:
            raise _unknown_key(section, ", ".join(f"[{name}]" for name in _SECTIONS), path)
        if not isinstance(value, dict):
            raise _mapping_error(
                N_("In the badge mapping %(path)s, %(section)s must be a [section]."),
                path,
                section=section,
            )
        for key in value:
            if key not in _SECTIONS[section]:
                raise _unknown_key(f"{section}.{key}", ", ".join(_SECTIONS[section]), path)


def _unknown_key(key: str, choices: str, path: Path) -> InvalidInput:
    return _mapping_error(
        N_("Unknown key \u201c%(key)s\u201d in the badge mapping %(path)s; expected %(choices)s."),
        path,
        key=key[:60],
        choices=choices,
    )


def _string(
    content: dict[str, Any], section: str, key: str, path: Path, *, required: bool = True
) -> Any:
    value = content.get(section, {}).get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _mapping_error(
            N_("In the badge mapping %(path)s, %(key)s must be a non-empty text."),
            path,
            key=f"{section}.{key}",
        )
    return value.strip()


def _values(results: dict[str, Any], key: str, path: Path) -> frozenset[str]:
    values = results.get(key, [])
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise _mapping_error(
            N_("In the badge mapping %(path)s, %(key)s must be a list of texts."),
            path,
            key=f"results.{key}",
        )
    return frozenset(value.strip().casefold() for value in values)


def _delimiter(content: dict[str, Any], path: Path) -> str:
    value = content.get("format", {}).get("delimiter", ",")
    if not isinstance(value, str) or len(value) != 1 or value in '"\r\n':
        raise _mapping_error(
            N_("In the badge mapping %(path)s, format.delimiter must be one character."), path
        )
    return value


def _encoding(content: dict[str, Any], path: Path) -> str:
    value = content.get("format", {}).get("encoding", "utf-8")
    try:
        name = codecs.lookup(value).name if isinstance(value, str) else ""
    except LookupError:
        name = ""
    # Rows are found by their b"\n": UTF-16 and the like would split in the wrong places.
    if not name or 'a,;\t"\n'.encode(name, "replace") != b'a,;\t"\n':
        raise _mapping_error(
            N_(
                "The encoding \u201c%(value)s\u201d in the badge mapping %(path)s is not usable; "
                "use one that extends ASCII, such as utf-8 or cp1252."
            ),
            path,
            value=str(value)[:40],
        )
    return name


def _timezone(content: dict[str, Any], path: Path) -> tzinfo:
    value = content.get("format", {}).get("timezone")
    if value is None:
        return UTC
    try:
        if isinstance(value, str) and value.strip():
            return ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        pass
    raise _mapping_error(
        N_("Unknown timezone \u201c%(value)s\u201d in the badge mapping %(path)s."),
        path,
        value=str(value)[:40],
    )


class BadgeCsvParser:
    name = NAME
    description = "Badge/door access exports (CSV with a column mapping)"
    positions_are_bytes = True

    def __init__(self, mapping: BadgeMapping) -> None:
        self.mapping = mapping

    def detect_file(self, path: Path, head: bytes) -> bool:
        try:
            header = self._header_names(head.split(b"\n", 1)[0])
        except (UnicodeDecodeError, csv.Error):
            return False
        return set(self.mapping.columns.values()) <= set(header)

    def read_file(self, path: Path, *, start: int, received: datetime) -> Iterator[FileRecord]:
        """Rows after byte ``start``; raises ParseError when the header lacks mapped columns."""
        try:
            file = path.open("rb")
        except OSError as error:
            raise ParseError(f"cannot open the file: {error.strerror or error}") from None
        with file:
            header = self._header(file)
            if start > file.tell():
                file.seek(start)
            while True:
                offset = file.tell()
                row = _read_row(file)
                if not row:
                    return
                if row.strip():
                    yield self._record(row, offset, file.tell(), header)

    def _header(self, file: BinaryIO) -> list[str]:
        line = _read_row(file)
        if not line.strip():
            raise ParseError("the file is empty: it has no header line")
        if len(line) > MAX_ROW_BYTES:
            raise ParseError(f"the header line is longer than {MAX_ROW_BYTES // 1024} KiB")
        try:
            header = _unique(self._header_names(line))
        except (UnicodeDecodeError, csv.Error) as error:
            raise ParseError(f"cannot read the header line: {error}") from None
        missing = sorted(set(self.mapping.columns.values()) - set(header))
        if missing:
            raise ParseError(f"the header lacks the mapped columns {', '.join(missing)}"[:150])
        return header

    def _header_names(self, line: bytes) -> list[str]:
        names = [name.strip() for name in self._cells(line.decode(self.mapping.encoding))]
        if names:
            names[0] = names[0].removeprefix("\ufeff").strip()
        return names

    def _cells(self, text: str) -> list[str]:
        rows = list(csv.reader([text.rstrip("\r\n")], delimiter=self.mapping.delimiter))
        return rows[0] if rows else []

    def _record(self, row: bytes, offset: int, end: int, header: list[str]) -> FileRecord:
        raw = row.decode(self.mapping.encoding, "backslashreplace")
        try:
            document = self._document(row, raw, offset, header)
        except ParseError as error:
            return FileRecord(position=end, key=str(offset), result=error, raw=raw)
        return FileRecord(position=end, key=str(offset), result=document, raw=raw)

    def _document(self, row: bytes, raw: str, offset: int, header: list[str]) -> Document:
        if len(row) > MAX_ROW_BYTES:
            raise ParseError(f"row at byte {offset} is longer than {MAX_ROW_BYTES // 1024} KiB")
        try:
            text, flags = row.decode(self.mapping.encoding), []
        except UnicodeDecodeError:
            text, flags = raw, [Flag.INVALID_UTF8.value]
        try:
            cells = self._cells(text.replace("\r\n", "\n"))
        except csv.Error as error:
            raise ParseError(f"row at byte {offset} is not valid CSV: {error}") from None
        if len(cells) != len(header):
            raise ParseError(
                f"row at byte {offset} has {len(cells)} columns; the header has {len(header)}"
            )
        values = dict(zip(header, cells, strict=True))
        document = self._ecs(values, offset)
        if flags:
            document["wachter"] = {"flags": flags}
        labels: dict[str, str] = {}
        for name, cell in values.items():
            if name in document or name == "labels":  # a name the event itself uses
                labels[name] = cell
            else:
                document[name] = cell
        if labels:
            document["labels"] = labels
        return document

    def _ecs(self, values: dict[str, str], offset: int) -> Document:
        columns = self.mapping.columns
        kind, outcome, action = self._result(values.get(columns.get("result", ""), ""))
        document: Document = {
            "@timestamp": self._time(values[columns["time"]], offset),
            "event": {
                "kind": "event",
                "category": ["intrusion_detection"],
                "type": [kind],
                "action": action,
                "outcome": outcome,
                "dataset": DATASET,
                "module": "badge",
            },
        }
        for role, (namespace, field) in _TARGETS.items():
            cell = keyword(values.get(columns.get(role, ""), "").strip())
            if cell:  # an over-long cell stays in its column only (parsers.base.MAX_KEYWORD)
                document.setdefault(namespace, {})[field] = cell
        return document

    def _result(self, cell: str) -> tuple[str, str, str]:
        """ECS event.type, event.outcome and event.action of a result value."""
        value = cell.strip().casefold()
        if value in self.mapping.granted:
            return "allowed", "success", "door-access-granted"
        if value in self.mapping.denied:
            return "denied", "failure", "door-access-denied"
        return "info", "unknown", "door-access"

    def _time(self, cell: str, offset: int) -> datetime:
        text = cell.strip()
        moment: datetime | None
        fmt = self.mapping.time_format
        try:
            # A format without %z gives a naive time: the mapping's timezone is applied below.
            moment = datetime.strptime(text, fmt) if fmt else parse_time(text)  # noqa: DTZ007
        except ValueError:
            moment = None
        if moment is None:
            shown = text[:24]
            raise ParseError(f"row at byte {offset}: cannot read the time {shown!r}")
        return moment if moment.tzinfo else moment.replace(tzinfo=self.mapping.timezone)


def _unique(header: list[str]) -> list[str]:
    """Header names made unique (``Door``, ``Door_2``) so no column hides another."""
    seen: dict[str, int] = {}
    unique = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return unique


def _read_row(file: BinaryIO) -> bytes:
    """One CSV row: a line, or more while a quoted cell is open; over MAX_ROW_BYTES, the
    first MAX_ROW_BYTES + 1 bytes (the caller refuses it) with the rest of the line skipped."""
    row = file.readline(MAX_ROW_BYTES + 1)
    while row.count(b'"') % 2 and row.endswith(b"\n") and len(row) <= MAX_ROW_BYTES:
        more = file.readline(MAX_ROW_BYTES + 1 - len(row))
        if not more:
            break
        row += more
    if len(row) > MAX_ROW_BYTES:
        rest = row
        while rest and not rest.endswith(b"\n"):
            rest = file.readline(MAX_ROW_BYTES)
    return row


def parsers(mapping: Path | None) -> tuple[BadgeCsvParser, ...]:
    """The badge parser when a mapping is configured (it cannot guess columns without one)."""
    return () if mapping is None else (parser(mapping),)


def parser(mapping: Path | None) -> BadgeCsvParser:
    if mapping is None:
        raise InvalidInput(
            N_(
                "The badge-csv format needs a column mapping: pass --mapping FILE or set "
                "WACHTER_BADGE_MAPPING."
            ),
            field="mapping",
        )
    return BadgeCsvParser(load_mapping(mapping))
