"""The incident timeline: every service function that changes an incident writes here.

Entries are never edited. Their details hold ids, states and counts, never free text or
personal data, so the timeline can go into a report or a feed as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.cases.models import TimelineEntry

DetailValue = str | int | float | bool | None | list[int] | list[str]


def add_entry(
    session: Session,
    *,
    incident_id: int,
    kind: str,
    actor: str,
    now: datetime,
    details: Mapping[str, DetailValue] | None = None,
) -> TimelineEntry:
    entry = TimelineEntry(
        incident_id=incident_id,
        origin_incident_id=incident_id,
        occurred_at=now,
        actor=actor,
        kind=kind,
        details=orjson.dumps(dict(details or {}), option=orjson.OPT_SORT_KEYS).decode(),
    )
    session.add(entry)
    session.flush()
    return entry


def entries(session: Session, incident_id: int) -> list[TimelineEntry]:
    """The incident's timeline, oldest first (merged-in incidents' entries included)."""
    query = (
        select(TimelineEntry)
        .where(TimelineEntry.incident_id == incident_id)
        .order_by(TimelineEntry.occurred_at, TimelineEntry.id)
    )
    return list(session.scalars(query))
