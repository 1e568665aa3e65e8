"""What a member of staff types into the aggression report form, checked field by field.

``ReportInput`` is the form as a frozen value: the facts (when, where, what kind, what
happened, weapon, injury, absence, who else was there) and the people (victim, witnesses,
perpetrator). The people's names, case reference, e-mail and phone never reach a column of
``staff_report``: a draft seals them, a submitted report puts them in the identity vault.

``parse_report_form`` reads the form's text fields (the web layer hands them over; this
module knows no Flask) and reports *every* bad field at once in one ``InvalidReport``, so
the form can show each reason beside its field and a summary at the top. A draft may be
incomplete; ``check_complete`` is what sending adds (when, where, category, what happened,
and the colleague's name when reporting for someone else).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, TypeVar
from zoneinfo import ZoneInfo

from core import InvalidInput
from core.i18n import N_
from staff_safety.models import Category, Location

MAX_DESCRIPTION: Final = 10_000
MAX_TEXT: Final = 2_000  # others present, the perpetrator's description
MAX_NAME: Final = 200
MAX_WITNESSES: Final = 10
MAX_CONTACT: Final = 254
MAX_CASE_REFERENCE: Final = 100
OLDEST: Final = timedelta(days=365)
# A phone's clock may run a little ahead of the server's: "now" typed on it is not future.
CLOCK_TOLERANCE: Final = timedelta(minutes=5)
YES, NO, NOT_SURE = "yes", "no", "not_sure"

_EMAIL: Final = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s.]{2,63}")
_PHONE: Final = re.compile(r"\+?[0-9 ()./-]{6,30}", re.ASCII)
_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_TIME: Final = re.compile(r"[0-9]{2}:[0-9]{2}(:[0-9]{2})?", re.ASCII)
T = TypeVar("T")
E = TypeVar("E", Location, Category)


class InvalidReport(InvalidInput):
    """One or more fields of the report form are wrong; ``errors`` maps field → reason."""

    def __init__(self, errors: Mapping[str, InvalidInput]) -> None:
        super().__init__(
            N_("Some answers need your attention; see the marked fields."),
            field=next(iter(errors), None),
        )
        self.errors: dict[str, InvalidInput] = dict(errors)


@dataclass(frozen=True)
class ReportInput:
    """The report form's fields; any of them may be empty in a draft."""

    occurred_at: datetime | None = None  # aware, UTC
    location: Location | None = None
    category: Category | None = None
    description: str = ""  # what happened
    weapon: bool = False
    injury: bool = False
    absence: bool = False  # sick leave because of it
    others_present: str = ""  # "a colleague from the counter": no names, those are witnesses
    witness_names: tuple[str, ...] = ()
    victim_is_reporter: bool = True
    victim_name: str = ""  # when reporting for a colleague
    perpetrator_name: str = ""
    perpetrator_case_reference: str = ""  # the citizen's file number
    perpetrator_email: str = ""
    perpetrator_phone: str = ""
    perpetrator_description: str = ""  # "man, about 40, red jacket"
    wants_aftercare: bool | None = None  # None: not sure (yet)
    wants_police_report: bool | None = None

    def __post_init__(self) -> None:
        errors = _field_errors(self)
        if errors:
            raise InvalidReport(errors)

    def people(self) -> dict[str, object]:
        """The identifying fields, as the JSON object a draft seals."""
        return {
            "victim_is_reporter": self.victim_is_reporter,
            "victim_name": self.victim_name,
            "witness_names": list(self.witness_names),
            "perpetrator_name": self.perpetrator_name,
            "case_reference": self.perpetrator_case_reference,
            "email": self.perpetrator_email,
            "phone": self.perpetrator_phone,
        }

    @property
    def knows_perpetrator(self) -> bool:
        return any(
            (
                self.perpetrator_name,
                self.perpetrator_case_reference,
                self.perpetrator_email,
                self.perpetrator_phone,
            )
        )


def _field_errors(data: ReportInput) -> dict[str, InvalidInput]:
    """The bounds every value must keep, draft or not (a direct construction is checked too)."""
    errors: dict[str, InvalidInput] = {}
    if data.occurred_at is not None and data.occurred_at.utcoffset() is None:
        errors["occurred_date"] = InvalidInput(N_("Give a date and time."), field="occurred_date")
    limits = {
        "description": MAX_DESCRIPTION,
        "others_present": MAX_TEXT,
        "victim_name": MAX_NAME,
        "perpetrator_name": MAX_NAME,
        "perpetrator_case_reference": MAX_CASE_REFERENCE,
        "perpetrator_email": MAX_CONTACT,
        "perpetrator_phone": 30,
        "perpetrator_description": MAX_TEXT,
    }
    for name, limit in limits.items():
        if len(getattr(data, name)) > limit:
            errors[name] = _too_long(name, limit)
    if len(data.witness_names) > MAX_WITNESSES:
        errors["witness_names"] = InvalidInput(
            N_("Name at most %(limit)d witnesses."), field="witness_names", limit=MAX_WITNESSES
        )
    elif any(len(name) > MAX_NAME for name in data.witness_names):
        errors["witness_names"] = InvalidInput(
            N_("A witness's name is at most %(limit)d characters."),
            field="witness_names",
            limit=MAX_NAME,
        )
    if data.perpetrator_email and not _EMAIL.fullmatch(data.perpetrator_email):
        errors["perpetrator_email"] = InvalidInput(
            N_("This does not look like an e-mail address."), field="perpetrator_email"
        )
    if data.perpetrator_phone and not _PHONE.fullmatch(data.perpetrator_phone):
        errors["perpetrator_phone"] = InvalidInput(
            N_("A phone number has digits, spaces, + ( ) - . / only."), field="perpetrator_phone"
        )
    return errors


def _too_long(name: str, limit: int) -> InvalidInput:
    return InvalidInput(N_("This is at most %(limit)d characters."), field=name, limit=limit)


def check_complete(data: ReportInput, *, now: datetime) -> None:
    """What sending needs beyond a draft: the four facts, a time in the last year, a name."""
    errors: dict[str, InvalidInput] = {}
    if data.occurred_at is None:
        errors["occurred_date"] = InvalidInput(
            N_("Say when it happened (date and time)."), field="occurred_date"
        )
    if data.location is None:
        errors["location"] = InvalidInput(N_("Say where it happened."), field="location")
    if data.category is None:
        errors["category"] = InvalidInput(N_("Choose what kind of incident."), field="category")
    if not data.description.strip():
        errors["description"] = InvalidInput(N_("Describe what happened."), field="description")
    if not data.victim_is_reporter and not data.victim_name.strip():
        errors["victim_name"] = InvalidInput(
            N_("Give your colleague's name, or say it happened to you."), field="victim_name"
        )
    if errors:
        raise InvalidReport(errors)
    check_when(data.occurred_at, now=now)


def check_when(occurred_at: datetime | None, *, now: datetime) -> None:
    """Not in the future, not more than a year ago."""
    if occurred_at is None:
        return
    if occurred_at > now + CLOCK_TOLERANCE:
        raise InvalidReport(
            {"occurred_date": InvalidInput(N_("This is in the future."), field="occurred_date")}
        )
    if occurred_at < now - OLDEST:
        raise InvalidReport(
            {
                "occurred_date": InvalidInput(
                    N_("Reports cover the last year; for older incidents, talk to your manager."),
                    field="occurred_date",
                )
            }
        )


def parse_report_form(values: Mapping[str, str], *, timezone: str, now: datetime) -> ReportInput:
    """The form's text fields → ``ReportInput``; every bad field in one ``InvalidReport``.

    Only the fields named here are read: anything else posted (a status, a reporter, an
    incident id) is ignored.
    """
    errors: dict[str, InvalidInput] = {}

    def read(name: str, parse: Callable[[str], T], default: T) -> T:
        try:
            return parse(values.get(name, ""))
        except InvalidInput as error:
            errors[error.field or name] = error
            return default

    occurred_at = read("occurred_date", lambda _: _local_time(values, timezone), None)
    parsed = {
        "occurred_at": occurred_at,
        "location": read("location", lambda text: _choice(text, Location, "location"), None),
        "category": read("category", lambda text: _choice(text, Category, "category"), None),
        "description": _text(values.get("description", "")),
        "weapon": _ticked(values.get("weapon", "")),
        "injury": _ticked(values.get("injury", "")),
        "absence": _ticked(values.get("absence", "")),
        "others_present": _text(values.get("others_present", "")),
        "witness_names": _names(values.get("witness_names", "")),
        "victim_is_reporter": values.get("victim", "me") != "colleague",
        "victim_name": _line(values.get("victim_name", "")),
        "perpetrator_name": _line(values.get("perpetrator_name", "")),
        "perpetrator_case_reference": _line(values.get("perpetrator_case_reference", "")),
        "perpetrator_email": _line(values.get("perpetrator_email", "")),
        "perpetrator_phone": _line(values.get("perpetrator_phone", "")),
        "perpetrator_description": _text(values.get("perpetrator_description", "")),
        "wants_aftercare": read("wants_aftercare", lambda t: _answer(t, "wants_aftercare"), None),
        "wants_police_report": read(
            "wants_police_report", lambda t: _answer(t, "wants_police_report"), None
        ),
    }
    try:
        check_when(occurred_at, now=now)
    except InvalidReport as error:
        errors.update(error.errors)
    try:
        data = ReportInput(**parsed)  # type: ignore[arg-type]
    except InvalidReport as error:
        errors = {**error.errors, **errors}
        data = None
    if errors or data is None:
        raise InvalidReport(errors)
    return data


def _local_time(values: Mapping[str, str], timezone: str) -> datetime | None:
    """Local date + time (the organisation's time zone) → UTC; both or neither."""
    day_text = values.get("occurred_date", "").strip()
    time_text = values.get("occurred_time", "").strip()
    if not day_text and not time_text:
        return None
    if not day_text or not time_text:
        raise InvalidInput(N_("Give both the date and the time."), field="occurred_date")
    if not _DATE.fullmatch(day_text) or not _TIME.fullmatch(time_text):
        raise InvalidInput(N_("Give a date and time."), field="occurred_date")
    try:
        day, moment = date.fromisoformat(day_text), time.fromisoformat(time_text)
    except ValueError:
        raise InvalidInput(N_("Give a date and time."), field="occurred_date") from None
    local = datetime.combine(day, moment.replace(second=0), tzinfo=ZoneInfo(timezone))
    return local.astimezone(UTC)


def _choice(text: str, choices: type[E], name: str) -> E | None:
    if not text:
        return None
    try:
        return choices(text)
    except ValueError:
        raise InvalidInput(N_("Choose one of the options."), field=name) from None


def _answer(text: str, name: str) -> bool | None:
    if text in ("", NOT_SURE):
        return None
    if text in (YES, NO):
        return text == YES
    raise InvalidInput(N_("Choose one of the options."), field=name)


def _ticked(text: str) -> bool:
    return text in ("1", "on", "yes", "true")


def _text(text: str) -> str:
    """Free text: line ends made \\n, outer blank space dropped; kept as typed otherwise."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _line(text: str) -> str:
    return " ".join(text.split())


def _names(text: str) -> tuple[str, ...]:
    """One witness per line; blank lines dropped."""
    return tuple(name for name in (_line(line) for line in text.splitlines()) if name)
