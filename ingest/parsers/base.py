"""What a parser is: input of one kind in, an ECS document (plus the source's fields) out.

Three kinds, by the shape of their input:

- ``LineParser``: one line of text (syslog, auth.log, web access logs, OpenVPN);
- ``DocumentParser``: one JSON object (Winlogbeat/EVTX-JSON, generic JSON lines);
- ``FileParser``: a whole file that is not line-oriented text (``.evtx``, badge CSV).

A parser returns a plain ``dict``: ECS fields nested as ECS nests them (``event``,
``user``, ``source``, ``host``, …) and the fields the source itself had under their own
names, so Sigma rules written for the raw source still match. ``@timestamp`` is the time
the event claims, as a ``datetime`` (naive when the source gave no zone) or absent;
``ingest.normalise`` makes it UTC, flags skew and adds ``event.ingested``. A parser
never touches the clock; ``received`` (the arrival time) is for sources that leave the
year out (RFC 3164).

Input a parser cannot read raises ``ParseError`` with a short English reason, which goes
to the sender (HTTP), the dead-letter store and the CLI.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

Document = dict[str, Any]
MAX_REASON = 200
# Longest value of a keyword field people filter on (user.name, host.name, …); ECS indexes
# keywords up to 1,024 characters. ``normalise.finish`` refuses an event with a longer one,
# so a parser that derives such a field must leave an over-long value out instead: a
# 2,000-character user name must not hide a failed logon from the rules.
MAX_KEYWORD = 1024


def valid_ip(text: str) -> str | None:
    """``text`` as a normalised IP address, or None. Zone ids (``fe80::1%eth0``) are refused:
    an ECS ``ip`` field cannot hold one. The one IP check of every parser and of
    ``normalise`` (cached: brute force repeats the same few addresses)."""
    if len(text) > 45 or "%" in text:
        return None
    return _checked_ip(text)


@functools.lru_cache(maxsize=8192)
def _checked_ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


class ParseError(ValueError):
    """Input a parser cannot turn into an event. ``reason`` is short, English and safe to show
    (it never quotes more than a few characters of the input)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason[:MAX_REASON]
        super().__init__(self.reason)


@runtime_checkable
class LineParser(Protocol):
    name: str
    description: str

    def detect(self, line: str) -> bool:
        """Cheap check: could this line be of my format? (used to guess a file's format)"""
        ...

    def parse_line(self, line: str, *, received: datetime) -> Document: ...


@runtime_checkable
class DocumentParser(Protocol):
    name: str
    description: str

    def detect_document(self, document: Document) -> bool: ...

    def parse_document(self, document: Document, *, received: datetime) -> Document: ...


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One record of a file: where the next one starts, and the event or why there is none."""

    position: int  # resume here to read the records after this one
    key: str  # unique within the file (a byte offset, a record number)
    result: Document | ParseError
    raw: str  # the record as text, for the dead-letter store


@runtime_checkable
class FileParser(Protocol):
    name: str
    description: str
    # True when ``FileRecord.position`` is a byte offset (badge CSV), False when it counts
    # records (.evtx); resuming checks a file's head up to a byte position only.
    positions_are_bytes: bool

    def detect_file(self, path: Path, head: bytes) -> bool:
        """``head`` is the file's first 4 KiB."""
        ...

    def read_file(self, path: Path, *, start: int, received: datetime) -> Iterator[FileRecord]:
        """Records from position ``start`` (0: the beginning) to the end of the file."""
        ...


Parser = LineParser | DocumentParser | FileParser
