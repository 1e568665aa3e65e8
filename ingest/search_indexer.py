"""Scale-out: every stored event is indexed on Elasticsearch/OpenSearch, nothing lost or doubled.

``SearchIndexer`` is an event-stream consumer (name ``search_index``) that takes light rows
(``ingest.pipeline.RowConsumer``): the documents go to the cluster as the stored bytes, so
it needs no ORM objects, and the rows are read from the database while earlier bulk
requests are in flight (bench/elasticsearch). The SQL event table is its outbox:
``deliver`` hands it the events after its cursor and moves the cursor in the same
transaction, after ``consume_rows`` returns. When the
cluster cannot take a batch (``SearchUnavailable``: down, timing out, overloaded after the
retries) ``consume`` raises, the transaction rolls back, the cursor stays where it was and
the next run sends the same events again, in the same order. Documents are created with ids
derived from the events' identity, so whatever part of the batch had arrived before the
failure is answered "already there" (409) and counted as a duplicate, never stored twice.

An event the cluster refuses (a mapping conflict) would never be accepted, so it must not
stop the stream: it goes to the dead letters with the cluster's reason and the rest move on.
The event itself stays in SQL until retention removes it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from itertools import groupby

from sqlalchemy.orm import Session

from core import Clock, SystemClock
from ingest.dead_letters import Rejection, record_dead_letters
from ingest.pipeline import EventRow
from storage.search import IndexResult, SearchBackend, ensure_templates, index_events

log = logging.getLogger("wachter.ingest.search")

CONSUMER_NAME = "search_index"
# Events per delivery: several bulk requests' worth (``index_events`` cuts them into requests
# of at most 1,000 documents and sends some at once), so a batch keeps the cluster busy.
BATCH_SIZE = 4000
DEAD_LETTER_RECEIVER = "search-index"


class SearchIndexer:
    """Indexes the event stream into ``<prefix>-events-YYYY.MM.DD``."""

    name = CONSUMER_NAME
    batch_size = BATCH_SIZE

    def __init__(self, backend: SearchBackend, *, prefix: str, clock: Clock | None = None) -> None:
        self.backend = backend
        self.prefix = prefix
        self._clock = clock or SystemClock()
        self._template_ready = False

    def consume_rows(self, session: Session, rows: Iterator[EventRow]) -> None:
        """Index the rows ``deliver`` streams (``ingest.pipeline.RowConsumer``)."""
        if not self._template_ready:
            # Before the first index of this process is made; a newer Wachter upgrades it.
            ensure_templates(self.backend, self.prefix)
            self._template_ready = True
        self._record(session, index_events(self.backend, rows, prefix=self.prefix))

    def _record(self, session: Session, result: IndexResult) -> None:
        if result.rejected:
            received_at = self._clock.now()
            for source, refused in groupby(result.rejected, key=lambda item: item.source):
                rejections = [
                    Rejection(reason=f"search index refused it: {item.reason}", raw=item.document)
                    for item in refused
                ]
                record_dead_letters(
                    session,
                    rejections,
                    receiver=DEAD_LETTER_RECEIVER,
                    source=source,
                    received_at=received_at,
                )
            log.warning(
                "events refused by the search index",
                extra={"wachter.events_refused": len(result.rejected)},
            )
        if result.indexed or result.duplicates:
            log.debug(
                "events indexed",
                extra={
                    "wachter.events_indexed": result.indexed,
                    "wachter.events_already_indexed": result.duplicates,
                },
            )
