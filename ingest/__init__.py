"""Log collection: receivers (HTTP, syslog, files), parsers, ECS normalisation, the event
pipeline and event search. docs/ingest.md describes it for users; these are the names
the rest of Wachter uses.
"""

from ingest import dead_letters, files, pipeline
from ingest.batches import Batch, Receipt
from ingest.dead_letters import count_dead_letters, list_dead_letters
from ingest.http_intake import BodyError, receive_body
from ingest.normalise import finish
from ingest.parsers import (
    DocumentParser,
    FileParser,
    FileRecord,
    LineParser,
    ParseError,
    ParserOptions,
    get_parser,
)
from ingest.pipeline import EventConsumer
from ingest.search import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, EventPage, search_events
from ingest.syslog import Listener, ReceiverStartError, SyslogReceivers

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "Batch",
    "BodyError",
    "DocumentParser",
    "EventConsumer",
    "EventPage",
    "FileParser",
    "FileRecord",
    "LineParser",
    "Listener",
    "ParseError",
    "ParserOptions",
    "Receipt",
    "ReceiverStartError",
    "SyslogReceivers",
    "count_dead_letters",
    "dead_letters",
    "files",
    "finish",
    "get_parser",
    "list_dead_letters",
    "pipeline",
    "receive_body",
    "search_events",
]
