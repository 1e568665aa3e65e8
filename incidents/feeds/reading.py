"""Reading the alert feed by cursor: what the pull API and the event stream hand out.

The cursor is the id of the last feed entry a reader has seen, as a decimal string. It is
opaque to clients (docs/feeds.md says so), but simple on purpose: ids are committed in
order (``feeds.changes``), so "the entries after id N, oldest first" never skips an entry
that commits later and never repeats one. Each entry is the alert's ECS document at that
change, with ``wachter.feed`` (the entry's id, the kind of change, when it was recorded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import InvalidInput
from core.i18n import N_
from incidents.alerts.models import SEVERITIES, Severity
from incidents.feeds.models import AlertFeedEntry

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 1000
_NUMBER = re.compile(r"[0-9]{1,18}", re.ASCII)  # fits a signed 64-bit id


@dataclass(frozen=True)
class FeedItem:
    id: int
    change: str
    document: dict[str, Any]


@dataclass(frozen=True)
class FeedPage:
    items: list[FeedItem]
    next_cursor: int  # the last id handed out, or the cursor asked with when none


def parse_cursor(text: str | None) -> int:
    """The feed id a cursor names; empty or absent is the start of the feed."""
    if text is None or not text.strip():
        return 0
    if not _NUMBER.fullmatch(text.strip()):
        raise InvalidInput(
            N_("The cursor must be a value from an earlier answer (a whole number)."),
            field="after",
        )
    return int(text.strip())


def parse_limit(text: str | None) -> int:
    if text is None or not text.strip():
        return DEFAULT_LIMIT
    value = text.strip()
    if not _NUMBER.fullmatch(value) or not 1 <= int(value) <= MAX_LIMIT:
        raise InvalidInput(
            N_("The limit must be a whole number from 1 to %(limit)d."),
            field="limit",
            limit=MAX_LIMIT,
        )
    return int(value)


def parse_min_severity(text: str | None, *, required: bool = False) -> Severity | None:
    """The severity named by ``text``; None for no text, unless one is ``required``."""
    if (text is None or not text.strip()) and not required:
        return None
    try:
        return Severity((text or "").strip())
    except ValueError:
        raise InvalidInput(
            N_("The minimum severity must be one of %(choices)s."),
            field="min_severity",
            choices=", ".join(SEVERITIES),
        ) from None


def severities_from(minimum: Severity | str | None) -> list[str]:
    """The severities at or above ``minimum`` (all of them for ``None``)."""
    if minimum is None:
        return [severity.value for severity in SEVERITIES]
    return [severity.value for severity in SEVERITIES[SEVERITIES.index(Severity(minimum)) :]]


def read_feed(
    session: Session, *, after: int, limit: int, min_severity: Severity | None = None
) -> FeedPage:
    """Feed entries with an id above ``after``, oldest first, at most ``limit``."""
    query = select(AlertFeedEntry).where(AlertFeedEntry.id > after)
    if min_severity is not None:
        query = query.where(AlertFeedEntry.severity.in_(severities_from(min_severity)))
    entries = session.scalars(query.order_by(AlertFeedEntry.id).limit(limit)).all()
    items = [feed_item(entry) for entry in entries]
    return FeedPage(items=items, next_cursor=items[-1].id if items else after)


def feed_item(entry: AlertFeedEntry) -> FeedItem:
    """The entry as it is handed out: its stored document with ``wachter.feed`` added."""
    document: dict[str, Any] = orjson.loads(entry.document)
    document.setdefault("wachter", {})["feed"] = {
        "id": entry.id,
        "change": entry.change,
        "recorded": entry.recorded_at.isoformat().replace("+00:00", "Z"),
    }
    return FeedItem(id=entry.id, change=entry.change, document=document)
