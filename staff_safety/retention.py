"""How long aggression reports are kept, legal hold, and the table the purge job works from.

A report is kept for a number of years per category, counted from the day its case closed.
A case that is open (or was reopened) is never purged, and neither is a case on legal hold
(criminal proceedings are running): ``set_legal_hold`` / ``release_legal_hold``, each with a
reason, audited and on the incident's timeline.

Defaults (``DEFAULT_YEARS``): 5 years for physical violence, every kind of threat, sexual
intimidation, intimidation or stalking, and doxing; 2 years for the rest.
``WACHTER_STAFF_RETENTION_FILE`` names a YAML file of ``category: years`` lines that
overrides them; an unknown category, a value that is not a whole number of years from 1 to
100, or a category given twice is refused with the file and line.

The purge itself is ``staff_safety.purge.purge_expired``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import yaml
from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import Actor
from core import ConfigError, Conflict, NotFound
from core.i18n import N_
from core.settings import Settings
from incidents.cases.history import record_change
from incidents.cases.lookup import writable_incident
from incidents.cases.models import Incident
from staff_safety.models import Category, StaffCase, StaffReport
from staff_safety.reasons import stated_reason

VARIABLE: Final = "WACHTER_STAFF_RETENTION_FILE"
MAX_FILE_BYTES: Final = 64 * 1024
MAX_YEARS: Final = 100
_LONG: Final = frozenset(
    {
        Category.PHYSICAL_VIOLENCE,
        Category.THREAT_IN_PERSON,
        Category.THREAT_PHONE,
        Category.THREAT_LETTER,
        Category.THREAT_EMAIL,
        Category.THREAT_ONLINE,
        Category.SEXUAL_INTIMIDATION,
        Category.INTIMIDATION,
        Category.DOXING,
    }
)
DEFAULT_YEARS: Final[dict[str, int]] = {
    category.value: 5 if category in _LONG else 2 for category in Category
}
# A report without a category (never from the form) is kept as long as the longest.
UNKNOWN_CATEGORY_YEARS: Final = 5


def retention_years(settings: Settings) -> dict[str, int]:
    """The table in force: the defaults with the file's values over them."""
    table = dict(DEFAULT_YEARS)
    if settings.staff_retention_file is not None:
        table.update(_read_file(settings.staff_retention_file))
    return table


def years_for(table: dict[str, int], category: str | None) -> int:
    return table.get(category or "", UNKNOWN_CATEGORY_YEARS)


def purge_due_at(closed_at: datetime, years: int) -> datetime:
    """When a report whose case closed at ``closed_at`` may be purged (calendar years)."""
    due: datetime = closed_at + relativedelta(years=years)
    return due


def _fail(path: Path, node: yaml.Node | None, problem: str) -> ConfigError:
    where = f", line {node.start_mark.line + 1}" if node is not None else ""
    return ConfigError(VARIABLE, f"{path}{where}: {problem}")


def _read_file(path: Path) -> dict[str, int]:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise _fail(path, None, f"cannot be read ({error.strerror or error})") from None
    if len(data) > MAX_FILE_BYTES:
        raise _fail(path, None, f"is larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        root = yaml.compose(data.decode("utf-8"), Loader=yaml.SafeLoader)
    except UnicodeDecodeError:
        raise _fail(path, None, "is not UTF-8 text") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f", line {mark.line + 1}" if mark else ""
        raise ConfigError(VARIABLE, f"{path}{where}: not valid YAML: {error.problem}") from None
    except yaml.YAMLError as error:
        raise _fail(path, None, f"not valid YAML: {error}") from None
    if root is None or (isinstance(root, yaml.ScalarNode) and root.value == ""):
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise _fail(path, root, "must be a mapping of category: years lines")
    return _read_mapping(path, root)


def _read_mapping(path: Path, root: yaml.MappingNode) -> dict[str, int]:
    known = list(DEFAULT_YEARS)
    years: dict[str, int] = {}
    lines: dict[str, int] = {}
    for key, value in root.value:
        name = str(key.value) if isinstance(key, yaml.ScalarNode) else ""
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise _fail(
                path, key, f"unknown category {name[:40]!r}{hint}; expected {', '.join(known)}"
            )
        if name in lines:
            raise _fail(path, key, f"{name!r} is given twice (first on line {lines[name]})")
        lines[name] = key.start_mark.line + 1
        text = str(value.value).strip() if isinstance(value, yaml.ScalarNode) else ""
        if not text.isdigit() or not 1 <= int(text) <= MAX_YEARS:
            raise _fail(path, value, f"{name}: give a whole number of years from 1 to {MAX_YEARS}")
        years[name] = int(text)
    return years


# --- legal hold ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldCase:
    incident_id: int
    incident_reference: str
    report_number: str | None
    reason: str


def _check_reason(reason: str) -> str:
    return stated_reason(reason, too_short=N_("Give a reason of at least %(minimum)d characters."))


def _held_case(session: Session, incident_id: int) -> tuple[Incident, StaffCase]:
    incident = writable_incident(session, incident_id)
    case = session.get(StaffCase, incident.id)
    if case is None:
        raise NotFound(N_("There is no staff-safety case %(id)s."), id=incident_id)
    return incident, case


def set_legal_hold(
    session: Session, incident_id: int, reason: str, actor: Actor, now: datetime
) -> StaffCase:
    """Keep a case beyond its retention (proceedings are running); the reason is kept."""
    text = _check_reason(reason)
    incident, case = _held_case(session, incident_id)
    if case.legal_hold:
        raise Conflict(N_("%(reference)s is already on legal hold."), reference=incident.reference)
    case.legal_hold, case.legal_hold_reason, case.updated_at = True, text, now
    record_change(
        session, incident, action="legal_hold_set", kind="legal_hold_set", actor=actor, now=now
    )
    return case


def release_legal_hold(
    session: Session, incident_id: int, reason: str, actor: Actor, now: datetime
) -> StaffCase:
    """End a legal hold; the retention period applies again (the reason replaces the hold's)."""
    text = _check_reason(reason)
    incident, case = _held_case(session, incident_id)
    if not case.legal_hold:
        raise Conflict(N_("%(reference)s is not on legal hold."), reference=incident.reference)
    case.legal_hold, case.legal_hold_reason, case.updated_at = False, text, now
    record_change(
        session,
        incident,
        action="legal_hold_released",
        kind="legal_hold_released",
        actor=actor,
        now=now,
    )
    return case


def cases_on_hold(session: Session) -> list[HeldCase]:
    query = (
        select(StaffCase, Incident.reference, StaffReport.number)
        .join(Incident, Incident.id == StaffCase.incident_id)
        .outerjoin(StaffReport, StaffReport.id == StaffCase.report_id)
        .where(StaffCase.legal_hold.is_(True))
        .order_by(StaffCase.incident_id)
    )
    return [
        HeldCase(case.incident_id, reference, number, case.legal_hold_reason)
        for case, reference, number in session.execute(query)
    ]
