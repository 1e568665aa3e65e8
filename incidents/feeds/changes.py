"""Every change of an alert is one entry in the alert feed, handed out in commit order.

Writers: the job that turns detections into alerts, and people acknowledging, closing or
escalating alerts (console and API), all at the same time. A reader asks for the entries
after the last id it saw; for that to never skip anything, no entry may become visible
after one with a larger id. PostgreSQL hands out sequence values before commit, so each
writer takes a transaction-scoped advisory lock before its insert and holds it until it
commits: ids are then committed in order. SQLite has one writer at a time already.
"""

from __future__ import annotations

from datetime import datetime

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from incidents.alerts.models import Alert
from incidents.feeds.documents import alert_document
from incidents.feeds.models import AlertFeedEntry
from incidents.feeds.pseudonyms import pseudonymiser

# pg_advisory_xact_lock key of the alert feed ("wachfeed" in ASCII, as a 64-bit number).
FEED_LOCK = int.from_bytes(b"wachfeed", "big") & 0x7FFF_FFFF_FFFF_FFFF
_LOCKED_IN = "wachter.feed_lock_transaction"


def record_alert_change(
    session: Session, alert: Alert, *, change: str, now: datetime
) -> AlertFeedEntry:
    """Append the alert as it is now to the feed (the caller's unit of work commits it)."""
    session.flush()  # the alert's id and values as the feed will show them
    take_feed_lock(session)
    document = alert_document(alert, pseudonymiser(session, now))
    entry = AlertFeedEntry(
        alert_id=alert.id,
        alert_version=alert.version,
        change=change,
        severity=alert.severity,
        recorded_at=now,
        document=orjson.dumps(document).decode(),
    )
    session.add(entry)
    session.flush()
    return entry


def take_feed_lock(session: Session) -> None:
    """Wait for the writers before this one to commit; held until this transaction ends.

    Taken before the entry's insert, so its id is drawn only once every earlier entry is
    visible. SQLite needs nothing: its writers take turns for whole transactions.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return
    transaction = session.get_transaction()
    if session.info.get(_LOCKED_IN) is transaction:
        return  # held already: a batch of changes takes it once, not once per entry
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FEED_LOCK})
    session.info[_LOCKED_IN] = transaction
