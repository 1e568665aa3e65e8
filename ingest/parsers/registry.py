"""The parsers Wachter knows, by name, and how a format is guessed from a sample.

Order matters for guessing: specific formats come before the general ones they overlap
with (``linux-auth`` before ``syslog``, ``windows`` before ``json``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core import InvalidInput
from core.i18n import N_
from ingest.parsers import (
    apache_error,
    badge_csv,
    evtx_file,
    json_lines,
    linux_auth,
    openvpn,
    syslog,
    wachter_audit,
    web_access,
    windows,
)
from ingest.parsers.base import Document, DocumentParser, FileParser, LineParser, Parser

# A line-format guess needs this share of the sample's non-empty lines to agree.
DETECT_QUORUM = 0.5


@dataclass(frozen=True)
class ParserOptions:
    """Settings some parsers need: the badge CSV column mapping (a TOML file)."""

    badge_mapping: Path | None = None


def all_parsers(options: ParserOptions | None = None) -> tuple[Parser, ...]:
    options = options or ParserOptions()
    return (
        *windows.PARSERS,
        *wachter_audit.PARSERS,
        *json_lines.PARSERS,
        *evtx_file.PARSERS,
        *badge_csv.parsers(options.badge_mapping),
        *linux_auth.PARSERS,
        *openvpn.PARSERS,
        *web_access.PARSERS,
        *apache_error.PARSERS,
        *syslog.PARSERS,
    )


def format_names() -> list[str]:
    names = [parser.name for parser in all_parsers()]
    return names if badge_csv.NAME in names else [*names, badge_csv.NAME]


def get_parser(name: str, options: ParserOptions | None = None) -> Parser:
    """The parser called ``name``; an unknown name is refused with the list of known ones."""
    if name == badge_csv.NAME:
        return badge_csv.parser(options.badge_mapping if options else None)
    for parser in all_parsers(options):
        if parser.name == name:
            return parser
    raise InvalidInput(
        N_("Unknown format \u201c%(name)s\u201d; choose from %(choices)s."),
        field="format",
        name=name[:40],
        choices=", ".join(format_names()),
    )


def detect_line_parser(lines: Sequence[str]) -> LineParser | None:
    """The line format most of ``lines`` fit, or None when none fits at least half."""
    sample = [line for line in lines if line.strip()]
    if not sample:
        return None
    best_hits, best = 0, None
    for candidate in all_parsers():
        if isinstance(candidate, LineParser):
            hits = sum(1 for line in sample if candidate.detect(line))
            if hits > best_hits:
                best_hits, best = hits, candidate
    return best if best_hits >= DETECT_QUORUM * len(sample) else None


@functools.cache
def _document_parsers() -> tuple[DocumentParser, ...]:
    # Computed once: isinstance against a runtime-checkable Protocol is slow, and this
    # runs for every event that arrives over HTTP.
    return tuple(parser for parser in all_parsers() if isinstance(parser, DocumentParser))


def detect_document_parser(document: Document) -> DocumentParser:
    """The first document parser that claims ``document``; generic JSON takes the rest."""
    for parser in _document_parsers():
        if parser.detect_document(document):
            return parser
    return json_lines.GENERIC


def detect_file_parser(path: Path, head: bytes, options: ParserOptions) -> FileParser | None:
    for parser in all_parsers(options):
        if isinstance(parser, FileParser) and parser.detect_file(path, head):
            return parser
    return None
