"""Deadlines (SLA) per incident type and severity, and the deadlines of one incident.

Three kinds, each a duration from ``Incident.created_at``, each met by a milestone the
incident service sets the first time it is reached: ``acknowledge`` (``acknowledged_at``),
``contain`` (``contained_at``) and ``resolve`` (``closed_at``). A closed incident has met
every deadline it still had open: closing is the last milestone and implies the others.

The built-in table (``DEFAULT_DURATIONS``, docs/deadlines.md) can be changed with the YAML
file ``WACHTER_DEADLINES_FILE``; a file overrides only the values it names, ``none``
removes a deadline. A bad file is a ``ConfigError`` naming the file, the line and what is
wrong, so the service refuses to start rather than run with deadlines nobody meant.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType

import yaml

from core import ConfigError
from incidents.alerts.models import Severity
from incidents.cases.models import Incident, IncidentType

VARIABLE = "WACHTER_DEADLINES_FILE"
MAX_FILE_BYTES = 64 * 1024
MAX_DURATION = timedelta(days=365)
_DURATION = re.compile(r"(?:(\d{1,4})d)?\s*(?:(\d{1,5})h)?\s*(?:(\d{1,6})m)?", re.ASCII)
_NO_DEADLINE = frozenset({"none", "off", "null", "~", ""})


class DeadlineKind(StrEnum):
    """In the order an incident reaches them."""

    ACKNOWLEDGE = "acknowledge"
    CONTAIN = "contain"
    RESOLVE = "resolve"


DEADLINE_KINDS: tuple[DeadlineKind, ...] = tuple(DeadlineKind)
Durations = Mapping[DeadlineKind, timedelta]


def _durations(acknowledge: str, contain: str | None, resolve: str | None) -> Durations:
    values = {
        DeadlineKind.ACKNOWLEDGE: acknowledge,
        DeadlineKind.CONTAIN: contain,
        DeadlineKind.RESOLVE: resolve,
    }
    return {kind: parse_duration(text) for kind, text in values.items() if text is not None}


def parse_duration(text: str) -> timedelta:
    """``15m``, ``4h``, ``3d``, ``1d12h``, ``1h30m``; ``ValueError`` saying what is expected."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{text.strip()[:40]!r} is not a duration such as 15m, 4h, 3d or 1h30m")
    days, hours, minutes = (int(part or 0) for part in match.groups())
    duration = timedelta(days=days, hours=hours, minutes=minutes)
    if not timedelta(minutes=1) <= duration <= MAX_DURATION:
        raise ValueError(f"{text.strip()!r} is outside 1 minute to {MAX_DURATION.days} days")
    return duration


def format_duration(duration: timedelta) -> str:
    """The shortest way to write ``duration`` in the file's notation (``1d12h``)."""
    minutes = int(duration.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{value}{unit}" for value, unit in ((days, "d"), (hours, "h"), (minutes, "m"))]
    return "".join(part for part in parts if not part.startswith("0")) or "0m"


def _cyber_like() -> dict[str, Durations]:
    return {
        Severity.CRITICAL: _durations("15m", "4h", "3d"),
        Severity.HIGH: _durations("1h", "24h", "7d"),
        Severity.MEDIUM: _durations("4h", "3d", "14d"),
        Severity.LOW: _durations("1d", "7d", "30d"),
        Severity.INFORMATIONAL: {},
    }


# Staff safety's legal deadlines (aftercare, police report) come with its own issue; until
# then every report is acknowledged within the hour, whatever its severity.
DEFAULT_DURATIONS: Mapping[str, Mapping[str, Durations]] = {
    IncidentType.CYBER: _cyber_like(),
    IncidentType.PHYSICAL: _cyber_like(),
    IncidentType.STAFF_SAFETY: {severity: _durations("1h", None, None) for severity in Severity},
}


@dataclass(frozen=True)
class DeadlineTable:
    """Durations by (incident type, severity, kind); ``source`` says where they came from."""

    entries: Mapping[tuple[str, str], Durations]
    source: str = "built-in defaults"

    def durations(self, incident_type: str, severity: str) -> Durations:
        """This type and severity's deadlines; none for a type or severity not in the table."""
        return self.entries.get((incident_type, severity), MappingProxyType({}))

    def rows(self) -> list[tuple[str, str, Durations]]:
        """Every (type, severity, durations), types and severities in their usual order."""
        return [
            (incident_type.value, severity.value, self.durations(incident_type, severity))
            for incident_type in IncidentType
            for severity in reversed(Severity)
        ]


def _table(nested: Mapping[str, Mapping[str, Durations]], source: str) -> DeadlineTable:
    entries = {
        (incident_type, severity): MappingProxyType(dict(kinds))
        for incident_type, severities in nested.items()
        for severity, kinds in severities.items()
    }
    return DeadlineTable(entries=MappingProxyType(entries), source=source)


DEFAULT_TABLE = _table(DEFAULT_DURATIONS, "built-in defaults")


@dataclass(frozen=True)
class Deadline:
    """One deadline of an incident as it stands at ``now``."""

    kind: DeadlineKind
    due_at: datetime
    met_at: datetime | None
    breached: bool  # met late, or not met and past due

    @property
    def is_met(self) -> bool:
        return self.met_at is not None

    def time_left(self, now: datetime) -> timedelta:
        """Negative when overdue."""
        return self.due_at - now


def milestone_of(incident: Incident, kind: DeadlineKind) -> datetime | None:
    """When the incident met a deadline of ``kind``; closing meets every one still open."""
    reached = {
        DeadlineKind.ACKNOWLEDGE: incident.acknowledged_at,
        DeadlineKind.CONTAIN: incident.contained_at,
        DeadlineKind.RESOLVE: incident.closed_at,
    }[kind]
    return reached if reached is not None else incident.closed_at


def deadlines_of(incident: Incident, table: DeadlineTable, *, now: datetime) -> list[Deadline]:
    """The incident's deadlines in order of kind, each met or not, breached or not at ``now``."""
    durations = table.durations(incident.type, incident.severity)
    found: list[Deadline] = []
    for kind in (kind for kind in DEADLINE_KINDS if kind in durations):
        due_at = incident.created_at + durations[kind]
        met_at = milestone_of(incident, kind)
        breached = met_at > due_at if met_at is not None else now > due_at
        found.append(Deadline(kind=kind, due_at=due_at, met_at=met_at, breached=breached))
    return found


def next_deadline(incident: Incident, table: DeadlineTable, *, now: datetime) -> Deadline | None:
    """The earliest deadline not yet met (overdue or not), or None when all are met."""
    open_deadlines = [d for d in deadlines_of(incident, table, now=now) if not d.is_met]
    return min(open_deadlines, key=lambda deadline: deadline.due_at, default=None)


def load_table(path: Path | None) -> DeadlineTable:
    """The built-in table with the file's values over it; the defaults when ``path`` is None."""
    if path is None:
        return DEFAULT_TABLE
    overrides = _read_file(path)
    nested = {kind: dict(severities) for kind, severities in DEFAULT_DURATIONS.items()}
    for (incident_type, severity), (kinds, line) in overrides.items():
        merged = dict(nested[incident_type].get(severity, {}))
        for kind, duration in kinds.items():
            if duration is None:
                merged.pop(kind, None)
            else:
                merged[kind] = duration
        _check_order(path, line, incident_type, severity, merged)
        nested[incident_type][severity] = merged
    return _table(nested, str(path))


def current_table(path: Path | None) -> DeadlineTable:
    """``load_table``, read again only when the file changed (size or modification time)."""
    if path is None:
        return DEFAULT_TABLE
    try:
        status = path.stat()
    except OSError:
        return load_table(path)  # raises the ConfigError that says why it cannot be read
    return _cached_table(path, status.st_mtime_ns, status.st_size)


@lru_cache(maxsize=4)
def _cached_table(path: Path, _mtime_ns: int, _size: int) -> DeadlineTable:
    return load_table(path)


# --- the file -------------------------------------------------------------------------------

KindOverrides = dict[DeadlineKind, timedelta | None]


@dataclass
class _Reader:
    path: Path
    overrides: dict[tuple[str, str], tuple[KindOverrides, int]] = field(default_factory=dict)

    def fail(self, node: yaml.Node | None, problem: str) -> ConfigError:
        where = f", line {node.start_mark.line + 1}" if node is not None else ""
        return ConfigError(VARIABLE, f"{self.path}{where}: {problem}")

    def mapping(self, node: yaml.Node, what: str) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping (key: value lines)")
        seen: dict[str, int] = {}
        pairs: list[tuple[yaml.ScalarNode, yaml.Node]] = []
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                raise self.fail(key, f"a key in {what} must be a plain word")
            if key.value in seen:
                raise self.fail(
                    key, f"{key.value!r} is given twice (first on line {seen[key.value]})"
                )
            seen[key.value] = key.start_mark.line + 1
            pairs.append((key, value))
        return pairs

    def choice(self, key: yaml.ScalarNode, choices: Iterable[str], what: str) -> str:
        allowed = [str(choice) for choice in choices]
        if key.value in allowed:
            return str(key.value)
        close = difflib.get_close_matches(str(key.value), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise self.fail(
            key, f"unknown {what} {str(key.value)[:40]!r}{hint}; expected {', '.join(allowed)}"
        )

    def duration(self, node: yaml.Node) -> timedelta | None:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, "a deadline must be a duration such as 15m, 4h or 3d, or none")
        text = str(node.value).strip()
        if text.lower() in _NO_DEADLINE:
            return None
        try:
            return parse_duration(text)
        except ValueError as error:
            raise self.fail(node, str(error)) from None

    def read(self, root: yaml.Node) -> None:
        for type_key, severities in self.mapping(root, "the file"):
            incident_type = self.choice(type_key, IncidentType, "incident type")
            for severity_key, kinds in self.mapping(severities, f"{incident_type}"):
                severity = self.choice(severity_key, Severity, "severity")
                values: KindOverrides = {}
                for kind_key, value in self.mapping(kinds, f"{incident_type}.{severity}"):
                    kind = DeadlineKind(self.choice(kind_key, DeadlineKind, "deadline"))
                    values[kind] = self.duration(value)
                self.overrides[(incident_type, severity)] = (values, severity_key.start_mark.line)


def _read_file(path: Path) -> dict[tuple[str, str], tuple[KindOverrides, int]]:
    reader = _Reader(path)
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise reader.fail(None, f"cannot be read ({error.strerror or error})") from None
    if len(data) > MAX_FILE_BYTES:
        raise reader.fail(None, f"is larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        root = yaml.compose(data.decode("utf-8"), Loader=yaml.SafeLoader)
    except UnicodeDecodeError:
        raise reader.fail(None, "is not UTF-8 text") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f", line {mark.line + 1}" if mark else ""
        problem = ", ".join(part for part in (error.context, error.problem) if part)
        raise ConfigError(VARIABLE, f"{path}{where}: not valid YAML: {problem}") from None
    except yaml.YAMLError as error:
        raise reader.fail(None, f"not valid YAML: {error}") from None
    if root is not None and not (isinstance(root, yaml.ScalarNode) and root.value == ""):
        reader.read(root)
    return reader.overrides


def _check_order(
    path: Path, line: int, incident_type: str, severity: str, durations: Durations
) -> None:
    """Deadlines follow the order of the milestones: containing cannot be due before
    acknowledging, nor resolving before containing."""
    present = [(kind, durations[kind]) for kind in DEADLINE_KINDS if kind in durations]
    for (earlier, first), (later, second) in pairwise(present):
        if second < first:
            raise ConfigError(
                VARIABLE,
                f"{path}, line {line + 1}: {incident_type}.{severity}: the {later} deadline "
                f"({format_duration(second)}) comes before the {earlier} deadline "
                f"({format_duration(first)})",
            )
