"""Scale-out: a copy of every alert on the search cluster, kept up to date from the alert feed.

Alerts stay in the relational database; ``<prefix>-alerts`` (``storage.search.alerts``) holds
one document per alert with its latest state, so dashboards can search and chart alerts
beside the events. The document is what the alert feed hands out for the change (the
pseudonymised ECS alert with ``wachter.feed``, ``feeds.reading.feed_item``): nothing the
SOC feeds do not already show, no names, no free text.

It is a feed consumer like the CEF sender: each run reads up to ``BATCH`` entries after the
``search_mirror`` cursor (a row of ``incidents_cursor``), keeps the newest entry of each
alert among them, writes those documents with the bulk ``index`` operation, and moves the
cursor past the batch only when the cluster took it. The feed entry id is the document's
external version, so a replay (a failed run sent again, or the cursor set back) never
brings an alert back to an older state, and an alert is one document however often it
changes. A document the cluster refuses (a mapping conflict) is logged with the alert's
number and skipped: it would never be taken, and the alert's next change writes it anew.

Outage: the cursor stays, the entries wait in the feed, and the same batch goes again on
a later run, after a wait that grows with each failure (5 s, 30 s, 2 min, then every
5 min; the first success resets it). The network is never used inside a transaction: the
read is ended before the bulk request and the cursor moved in a new one, as CEF does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

import orjson
from sqlalchemy.orm import Session

from incidents.feeds.cef_sender import Backoff
from incidents.feeds.cursors import advance_cursor, entries_after_cursor
from incidents.feeds.models import AlertFeedEntry
from incidents.feeds.reading import feed_item
from storage.search import SearchBackend, SearchError, SearchRejected
from storage.search.alerts import AlertDocument, ensure_alerts_template, index_alerts

CURSOR = "search_mirror"
BATCH = 500

log = logging.getLogger("wachter.incidents.search_mirror")


class AlertMirror:
    """Keeps ``<prefix>-alerts`` up to date from the alert feed (one per process)."""

    def __init__(
        self, backend: SearchBackend, *, prefix: str, backoff: Backoff | None = None
    ) -> None:
        self.backend = backend
        self.prefix = prefix
        self.backoff = Backoff() if backoff is None else backoff
        self._template_ready = False

    def run(self, session: Session, *, now: datetime) -> bool:
        """Mirror the next batch of alert changes; True when a full batch went (more wait).

        Give it a session with nothing pending (the job's): it ends the read before the
        cluster is asked anything.
        """
        if self.backoff.is_waiting(now):
            return False
        position, entries = entries_after_cursor(session, CURSOR, limit=BATCH)
        if not entries:
            return False
        documents = latest_documents(entries)
        last_id = entries[-1].id
        session.commit()  # ends the read: no transaction is open while the network is used
        try:
            self._write(documents)
        except SearchError as error:
            self._failed(error, now=now, waiting=len(entries))
            return False
        self.backoff.succeeded()
        if not advance_cursor(session, CURSOR, position=position, to=last_id, now=now):
            log.warning("the alert mirror's cursor was moved by another process; not moved back")
        return len(entries) == BATCH

    def _write(self, documents: Sequence[AlertDocument]) -> None:
        if not self._template_ready:  # before this process's first write makes the index
            ensure_alerts_template(self.backend, self.prefix)
            self._template_ready = True
        result = index_alerts(self.backend, documents, prefix=self.prefix)
        for refused in result.refused:
            log.error(
                "the alert index refused alert %d (%s); it is written again on its next change",
                refused.alert_id,
                refused.reason,
                extra={"wachter.alert_id": refused.alert_id},
            )
        log.info(
            "alerts mirrored to the search index",
            extra={"wachter.alerts_indexed": result.indexed, "wachter.alerts_stale": result.stale},
        )

    def _failed(self, error: SearchError, *, now: datetime, waiting: int) -> None:
        delay = self.backoff.failed(now)
        level = logging.ERROR if isinstance(error, SearchRejected) else logging.WARNING
        log.log(
            level,
            "alerts not mirrored to the search index (%s); %d changes kept for a retry in %d s",
            str(error)[:300],
            waiting,
            int(delay.total_seconds()),
            extra={"wachter.search_mirror.failures": self.backoff.failures},
        )


def latest_documents(entries: Sequence[AlertFeedEntry]) -> list[AlertDocument]:
    """The newest entry of each alert among ``entries`` (oldest first) as a document to write,
    in feed order; its version is the entry's id."""
    newest: dict[int, AlertFeedEntry] = {}
    for entry in entries:
        newest[entry.alert_id] = entry  # later entries have larger ids: the last one wins
    return [
        AlertDocument(entry.alert_id, entry.id, orjson.dumps(feed_item(entry).document))
        for entry in sorted(newest.values(), key=lambda entry: entry.id)
    ]
