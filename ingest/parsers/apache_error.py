"""(being written)"""

from __future__ import annotations

from ingest.parsers.base import Parser

PARSERS: tuple[Parser, ...] = ()
