"""Scale-out retention on the cluster: Wachter's daily event indices older than the setting.

The SQL event table forgets events after ``WACHTER_RETENTION_DAYS`` (``ingest.purge_old_events``);
the cluster must forget them too. Events live in one index per UTC day
(``<prefix>-events-YYYY.MM.DD``), so retention deletes whole indices: the index of day D
goes once every event it can hold (up to the end of D) is older than the retention, i.e.
when D lies before the UTC day of ``now - retention``. Indices are deleted one by one by
their exact name (``storage.search.purge_indices_before``): never by wildcard, and never
an index that only looks like Wachter's.

Run daily by the job ``storage.purge_search_indices``. A cluster that cannot be reached is
no error: the job logs a warning and the next day's run deletes what is due then. A cluster
that refuses (no permission to delete) raises ``SearchRejected``: that needs an
administrator, so the job runner logs it as a failure.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from storage.search import SearchBackend, SearchUnavailable, purge_indices_before

log = logging.getLogger("wachter.ingest.search")


def purge_search_indices(
    backend: SearchBackend, *, prefix: str, retention_days: int, now: datetime
) -> list[str]:
    """Delete the daily event indices wholly older than ``retention_days``; their names.

    Returns an empty list, after a warning, when the cluster is unavailable.
    """
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    first_kept = (now - timedelta(days=retention_days)).astimezone(UTC).date()
    try:
        deleted = purge_indices_before(backend, prefix, first_kept)
    except SearchUnavailable as error:
        log.warning(
            "old search indices not deleted: the cluster is unavailable; next run tries again",
            extra={"wachter.error": str(error)},
        )
        return []
    if deleted:
        log.info(
            "old search indices deleted",
            extra={"wachter.indices_deleted": len(deleted), "wachter.kept_from": str(first_kept)},
        )
    return deleted
