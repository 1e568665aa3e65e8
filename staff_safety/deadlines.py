"""The deadlines of one aggression report, as data, and which of them were breached.

The ELA/VPT practice (issue 7) sets five deadlines, all counted from the moment the report was
made except the re-offer of aftercare, counted from the moment the victim declined it:

=====================  ============================================================
``police_report``      2 working days (end of the 2nd working day, see ``calendar``)
``aftercare_contact``  72 clock hours: real elapsed time, also across a DST switch
``aftercare_reoffer``  2 weeks after aftercare was declined (only if it was)
``check_in_6_weeks``   6 weeks (42 days), same local time of day
``check_in_3_months``  3 calendar months, same local time, clamped to the month's end
=====================  ============================================================

Calendar periods keep the local wall-clock time, so a check-in set at 16:00 stays at 16:00
after the clocks change. Check-ins that fall on a weekend or holiday are not moved: they are
"on or around" dates, and moving them later would make them late by construction.

This module decides nothing and stores nothing: the workflow records when each deadline
was met and asks ``breached`` at a given ``now``; escalation is the caller's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from staff_safety.calendar import WorkingDays

__all__ = ["Breach", "Deadline", "DeadlineKind", "StaffSafetyDeadlines", "breached"]

POLICE_REPORT_WORKING_DAYS = 2
AFTERCARE_CONTACT_WITHIN = timedelta(hours=72)
AFTERCARE_REOFFER_DAYS = 14
CHECK_IN_SHORT_DAYS = 42
CHECK_IN_LONG_MONTHS = 3


class DeadlineKind(StrEnum):
    POLICE_REPORT = "police_report"
    AFTERCARE_CONTACT = "aftercare_contact"
    AFTERCARE_REOFFER = "aftercare_reoffer"
    CHECK_IN_6_WEEKS = "check_in_6_weeks"
    CHECK_IN_3_MONTHS = "check_in_3_months"


def _require_aware(moment: object, name: str) -> datetime:
    if not isinstance(moment, datetime):
        raise ValueError(f"{name} must be a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got naive {moment.isoformat()})")
    return moment


@dataclass(frozen=True)
class Deadline:
    """One deadline: what must be done (``kind``) and by when (``due_at``, aware UTC)."""

    kind: DeadlineKind
    due_at: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.kind, DeadlineKind):
            raise ValueError(f"kind must be a DeadlineKind, got {self.kind!r}")
        _require_aware(self.due_at, "due_at")
        # Normalise so equal instants compare and print the same whatever zone they came in.
        object.__setattr__(self, "due_at", self.due_at.astimezone(UTC))


@dataclass(frozen=True)
class StaffSafetyDeadlines:
    """The deadlines of one report, in due order. Iterable as ``Deadline`` values."""

    reported_at: datetime
    deadlines: tuple[Deadline, ...]

    @classmethod
    def for_report(
        cls,
        reported_at: datetime,
        *,
        calendar: WorkingDays,
        aftercare_declined_at: datetime | None = None,
    ) -> StaffSafetyDeadlines:
        _require_aware(reported_at, "reported_at")
        found = [
            Deadline(
                DeadlineKind.POLICE_REPORT,
                calendar.add_working_days(reported_at, POLICE_REPORT_WORKING_DAYS),
            ),
            # Clock hours: UTC arithmetic, so a DST switch neither adds nor takes an hour.
            Deadline(
                DeadlineKind.AFTERCARE_CONTACT,
                reported_at.astimezone(UTC) + AFTERCARE_CONTACT_WITHIN,
            ),
            Deadline(
                DeadlineKind.CHECK_IN_6_WEEKS,
                calendar.add_calendar_days(reported_at, CHECK_IN_SHORT_DAYS),
            ),
            Deadline(
                DeadlineKind.CHECK_IN_3_MONTHS,
                calendar.add_calendar_months(reported_at, CHECK_IN_LONG_MONTHS),
            ),
        ]
        if aftercare_declined_at is not None:
            _require_aware(aftercare_declined_at, "aftercare_declined_at")
            if aftercare_declined_at < reported_at:
                raise ValueError("aftercare_declined_at is before reported_at")
            found.append(
                Deadline(
                    DeadlineKind.AFTERCARE_REOFFER,
                    calendar.add_calendar_days(aftercare_declined_at, AFTERCARE_REOFFER_DAYS),
                )
            )
        ordered = tuple(sorted(found, key=lambda deadline: deadline.due_at))
        return cls(reported_at=reported_at.astimezone(UTC), deadlines=ordered)

    def __iter__(self) -> Iterator[Deadline]:
        return iter(self.deadlines)

    def get(self, kind: DeadlineKind) -> Deadline | None:
        """The deadline of ``kind``, or None (``aftercare_reoffer`` when nothing was declined)."""
        return next((deadline for deadline in self.deadlines if deadline.kind == kind), None)

    def due_at(self, kind: DeadlineKind) -> datetime:
        """When ``kind`` is due; ``KeyError`` if this report has no such deadline."""
        deadline = self.get(kind)
        if deadline is None:
            raise KeyError(kind)
        return deadline.due_at


@dataclass(frozen=True)
class Breach:
    """A deadline that passed unmet (``met_at`` None) or was met late (``met_at`` after due)."""

    deadline: Deadline
    met_at: datetime | None

    @property
    def is_still_open(self) -> bool:
        return self.met_at is None


def breached(
    deadlines: Iterable[Deadline], *, met: Mapping[DeadlineKind, datetime], now: datetime
) -> list[Breach]:
    """The deadlines past due at ``now`` and not met in time, in due order.

    Met exactly at ``due_at`` is in time. A deadline met late is reported as a breach with
    its ``met_at``: it was breached, and the escalation record must say so.
    """
    _require_aware(now, "now")
    listed = list(deadlines)
    kinds = [deadline.kind for deadline in listed]
    if len(set(kinds)) != len(kinds):
        raise ValueError("deadlines holds the same kind twice")
    for kind, moment in met.items():
        if kind not in kinds:
            raise ValueError(f"met names {kind!r}, which is not among the deadlines")
        _require_aware(moment, f"met[{kind!r}]")
        if moment > now:
            raise ValueError(f"met[{kind!r}] is after now: a deadline cannot be met in the future")
    found = []
    for deadline in sorted(listed, key=lambda item: item.due_at):
        met_at = met.get(deadline.kind)
        if met_at is None and now > deadline.due_at:
            found.append(Breach(deadline, None))
        elif met_at is not None and met_at > deadline.due_at:
            found.append(Breach(deadline, met_at.astimezone(UTC)))
    return found
