"""(being written: RFC 3164/5424 parsing with program dispatch; this placeholder keeps the
signature other modules build on)"""

from __future__ import annotations

from datetime import datetime

from ingest.parsers.base import Document, ParseError, Parser


def parse_syslog(line: str, *, received: datetime) -> Document:
    if not line.strip():
        raise ParseError("empty syslog message")
    return {"message": line, "event": {"dataset": "syslog", "original": line}}


PARSERS: tuple[Parser, ...] = ()
