"""(being written)"""

from __future__ import annotations

from datetime import datetime

from ingest.parsers.base import Document, Parser


class _Generic:
    name = "json"
    description = "JSON lines"

    def detect_document(self, document: Document) -> bool:
        return True

    def parse_document(self, document: Document, *, received: datetime) -> Document:
        return dict(document)


GENERIC = _Generic()
PARSERS: tuple[Parser, ...] = (GENERIC,)
