"""Old alert-feed entries are purged after the events' retention (``WACHTER_RETENTION_DAYS``).

The feed holds one document per alert change and would otherwise grow without end. An
entry a dead letter still points at is kept (it can be replayed); a webhook or the CEF
sender that was away longer than the retention resumes with the oldest entry left, which
docs/feeds.md says.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from incidents.feeds.models import AlertFeedEntry, WebhookDeadLetter


def purge_feed(session: Session, *, recorded_before: datetime, limit: int) -> int:
    """Delete up to ``limit`` of the oldest entries recorded before the cut-off."""
    kept = select(WebhookDeadLetter.feed_entry_id)
    oldest = (
        select(AlertFeedEntry.id)
        .where(AlertFeedEntry.recorded_at < recorded_before, AlertFeedEntry.id.not_in(kept))
        .order_by(AlertFeedEntry.id)
        .limit(limit)
    )
    ids = list(session.scalars(oldest))
    if not ids:
        return 0
    session.execute(delete(AlertFeedEntry).where(AlertFeedEntry.id.in_(ids)))
    return len(ids)
