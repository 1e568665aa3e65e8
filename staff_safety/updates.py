"""What the reporter is told: one ``ReportUpdate`` per step taken on their report.

The national guidance asks for a feedback loop: someone who reports aggression hears what
was done with it. Each step of the workflow that matters to the reporter (first care, the
police report, measures, closing) calls ``tell_reporter``; "my reports" shows the updates
and marks the new ones. ``details`` hold only what the reporter may see: never internal
notes, the risk assessment or other people's pseudonyms.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from staff_safety.models import ReportUpdate, StaffReport

UpdateValue = str | int | bool | None


class UpdateKind(StrEnum):
    SUBMITTED = "submitted"
    FIRST_CARE = "first_care"
    REGISTERED = "registered"
    POLICE_DECISION = "police_decision"
    POLICE_FILED = "police_filed"
    PROSECUTION_DECISION = "prosecution_decision"
    OUTCOME = "outcome"
    DAMAGE_RECOVERED = "damage_recovered"
    AFTERCARE_CONTACT = "aftercare_contact"
    AFTERCARE_REOFFERED = "aftercare_reoffered"
    MEASURE_TAKEN = "measure_taken"
    CLOSED = "closed"
    REOPENED = "reopened"


def tell_reporter(
    session: Session,
    report_id: int | None,
    kind: UpdateKind,
    *,
    now: datetime,
    details: Mapping[str, UpdateValue] | None = None,
) -> ReportUpdate | None:
    """Record a step for the reporter (nothing for a case that has no report)."""
    if report_id is None:
        return None
    row = ReportUpdate(
        report_id=report_id,
        occurred_at=now,
        kind=UpdateKind(kind).value,
        details=json.dumps(dict(details or {}), sort_keys=True, separators=(",", ":")),
    )
    session.add(row)
    session.flush()
    return row


def updates_of(session: Session, report_id: int) -> list[ReportUpdate]:
    """A report's updates, oldest first."""
    return list(
        session.scalars(
            select(ReportUpdate)
            .where(ReportUpdate.report_id == report_id)
            .order_by(ReportUpdate.occurred_at, ReportUpdate.id)
        )
    )


def details_of(row: ReportUpdate) -> dict[str, UpdateValue]:
    loaded = json.loads(row.details or "{}")
    return loaded if isinstance(loaded, dict) else {}


def unseen_count(session: Session, reporter_pseudonym: str) -> int:
    """How many updates on the reporter's reports they have not seen yet."""
    return int(
        session.scalar(
            select(func.count(ReportUpdate.id))
            .join(StaffReport, StaffReport.id == ReportUpdate.report_id)
            .where(
                StaffReport.reporter_pseudonym == reporter_pseudonym,
                ReportUpdate.seen_at.is_(None),
            )
        )
        or 0
    )


def mark_seen(session: Session, report_id: int, *, now: datetime) -> int:
    """The reporter opened the report: its updates are no longer new."""
    result = session.execute(
        update(ReportUpdate)
        .where(ReportUpdate.report_id == report_id, ReportUpdate.seen_at.is_(None))
        .values(seen_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)
