"""Fields the matcher computes from an event's time, for rules about *when* something happens.

Sigma has no "outside office hours" operator and its timestamp modifiers (``|hour``) work
in UTC, which moves an hour twice a year in the Netherlands. So rules may use these fields,
computed in the organisation's time zone and never read from the event (a sender cannot
set them: ``wachter.*`` is reserved at ingest, and computed values win here anyway):

- ``wachter.time.office_hours``: true on a working day between opening and closing time;
- ``wachter.time.local_hour``: 0-23; ``wachter.time.weekday``: 1 (Monday) to 7 (Sunday).

An event without a readable time has none of them (so ``office_hours: false`` does not
match it either).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from detection_rules.fields import MISSING, event_time
from detection_rules.matcher.view import DerivedField

PREFIX = "wachter.time."
OFFICE_HOURS = PREFIX + "office_hours"
LOCAL_HOUR = PREFIX + "local_hour"
WEEKDAY = PREFIX + "weekday"
DERIVED_FIELD_NAMES = frozenset({OFFICE_HOURS, LOCAL_HOUR, WEEKDAY})


@dataclass(frozen=True)
class OfficeHours:
    timezone: str = "Europe/Amsterdam"
    opens: time = time(7, 0)
    closes: time = time(19, 0)
    working_days: frozenset[int] = frozenset({1, 2, 3, 4, 5})

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.timezone))

    def contains(self, moment: datetime) -> bool:
        local = self.local(moment)
        return local.isoweekday() in self.working_days and self.opens <= local.time() < self.closes


def derived_fields(office_hours: OfficeHours | None = None) -> Mapping[str, DerivedField]:
    hours = office_hours or OfficeHours()

    def office(event: Mapping[str, Any]) -> Any:
        moment = event_time(event)
        return MISSING if moment is None else hours.contains(moment)

    def hour(event: Mapping[str, Any]) -> Any:
        moment = event_time(event)
        return MISSING if moment is None else hours.local(moment).hour

    def weekday(event: Mapping[str, Any]) -> Any:
        moment = event_time(event)
        return MISSING if moment is None else hours.local(moment).isoweekday()

    return {OFFICE_HOURS: office, LOCAL_HOUR: hour, WEEKDAY: weekday}
