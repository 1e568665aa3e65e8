"""Parsers: a registry of formats, each turning raw input into an ECS document."""

from ingest.parsers.base import (
    Document,
    DocumentParser,
    FileParser,
    FileRecord,
    LineParser,
    ParseError,
    Parser,
)
from ingest.parsers.registry import (
    ParserOptions,
    all_parsers,
    detect_document_parser,
    detect_file_parser,
    detect_line_parser,
    format_names,
    get_parser,
)

__all__ = [
    "Document",
    "DocumentParser",
    "FileParser",
    "FileRecord",
    "LineParser",
    "ParseError",
    "Parser",
    "ParserOptions",
    "all_parsers",
    "detect_document_parser",
    "detect_file_parser",
    "detect_line_parser",
    "format_names",
    "get_parser",
]
