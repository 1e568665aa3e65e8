"""Playbooks: versioned templates of tasks per incident type, applied when an incident opens.

A playbook is a YAML file::

    key: default-cyber
    incident_type: cyber
    title: Cyberincident (NIST SP 800-61)
    tasks:
      - key: scope
        title: Omvang vaststellen
        description: Welke hosts, accounts en gegevens zijn betrokken?
        due_after_minutes: 60

Importing it stores a new ``PlaybookVersion`` when its text changed (by SHA-256) and
nothing when it is the same, so an incident keeps the version it was opened with while
the playbook moves on. Each type's playbook is ``default-<type>``; Wachter ships one per
type (``incidents/playbooks/*.yml``) and ``install_default_playbooks`` installs them at
start-up without ever re-adding a text that is already one of the playbook's versions.
The shipped texts are in Dutch, the organisation's working language (ADR 0028).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from importlib import resources
from typing import Any, Final

import orjson
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import Actor, record_audit
from core import InvalidInput, NotFound
from core.i18n import N_
from incidents.cases.models import (
    Incident,
    IncidentTask,
    IncidentType,
    Playbook,
    PlaybookVersion,
    TaskStatus,
)

MAX_PLAYBOOK_BYTES: Final = 256 * 1024
MAX_TASKS: Final = 100
MAX_TITLE: Final = 300
MAX_DESCRIPTION: Final = 5000
MAX_DUE_MINUTES: Final = 366 * 24 * 60
KEY: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}", re.ASCII)
_LOADER: Final[type[yaml.SafeLoader]] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TOP_FIELDS: Final = frozenset({"key", "incident_type", "title", "tasks"})
_TASK_FIELDS: Final = frozenset({"key", "title", "description", "due_after_minutes"})


class ImportOutcome(StrEnum):
    CREATED = "created"
    NEW_VERSION = "new_version"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class PlaybookTask:
    key: str
    title: str
    description: str
    due_after_minutes: int | None


@dataclass(frozen=True)
class PlaybookDefinition:
    key: str
    incident_type: IncidentType
    title: str
    tasks: tuple[PlaybookTask, ...]


@dataclass(frozen=True)
class PlaybookImport:
    outcome: ImportOutcome
    key: str
    version: int


def default_key(incident_type: str) -> str:
    return f"default-{incident_type}"


def parse_playbook(text: bytes, *, source: str) -> PlaybookDefinition:
    """The playbook in ``text``; ``InvalidInput`` naming ``source`` (and the line) if not one."""
    if len(text) > MAX_PLAYBOOK_BYTES:
        raise _invalid(source, f"larger than {MAX_PLAYBOOK_BYTES} bytes")
    try:
        document = text.decode("utf-8-sig")
        # Aliases are refused before anything is built: a playbook needs none, and they are
        # how a few lines of YAML expand into gigabytes.
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(document, _LOADER)):
            raise _invalid(source, "YAML aliases are not allowed")
        data = yaml.load(document, _LOADER)  # noqa: S506 - the safe loader
    except UnicodeDecodeError:
        raise _invalid(source, "not UTF-8 text") from None
    except yaml.MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else 0
        raise _invalid(source, f"line {line}: {error.problem}") from None
    except yaml.YAMLError as error:
        raise _invalid(source, str(error)[:200]) from None
    return _definition(data, source)


def _definition(data: Any, source: str) -> PlaybookDefinition:
    if not isinstance(data, dict):
        raise _invalid(source, "a playbook is a mapping with key, incident_type, title and tasks")
    unknown = sorted(str(name) for name in data if name not in _TOP_FIELDS)
    if unknown:
        raise _invalid(source, f"unknown field {unknown[0]!r}")
    key = _text(data.get("key"), source, "key", MAX_TITLE)
    if not KEY.fullmatch(key):
        raise _invalid(source, "key: lower-case letters, digits, '-' and '_', at most 100")
    try:
        incident_type = IncidentType(str(data.get("incident_type")))
    except ValueError:
        kinds = ", ".join(IncidentType)
        raise _invalid(source, f"incident_type: one of {kinds}") from None
    tasks = data.get("tasks")
    if not isinstance(tasks, list) or not 1 <= len(tasks) <= MAX_TASKS:
        raise _invalid(source, f"tasks: a list of 1 to {MAX_TASKS} tasks")
    parsed = tuple(_task(task, source, number) for number, task in enumerate(tasks, 1))
    keys = [task.key for task in parsed]
    if len(set(keys)) != len(keys):
        raise _invalid(source, "tasks: every task needs a key of its own")
    title = _text(data.get("title"), source, "title", MAX_TITLE)
    return PlaybookDefinition(key, incident_type, title, parsed)


def _task(data: Any, source: str, number: int) -> PlaybookTask:
    where = f"task {number}"
    if not isinstance(data, dict):
        raise _invalid(source, f"{where}: a mapping with key, title, description")
    unknown = sorted(str(name) for name in data if name not in _TASK_FIELDS)
    if unknown:
        raise _invalid(source, f"{where}: unknown field {unknown[0]!r}")
    key = _text(data.get("key"), source, f"{where}: key", MAX_TITLE)
    if not KEY.fullmatch(key):
        raise _invalid(source, f"{where}: key: lower-case letters, digits, '-' and '_'")
    due = data.get("due_after_minutes")
    if due is not None and (
        isinstance(due, bool) or not isinstance(due, int) or not 1 <= due <= MAX_DUE_MINUTES
    ):
        raise _invalid(source, f"{where}: due_after_minutes: a whole number 1 to {MAX_DUE_MINUTES}")
    description = data.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise _invalid(source, f"{where}: description: text of at most {MAX_DESCRIPTION}")
    title = _text(data.get("title"), source, f"{where}: title", MAX_TITLE)
    return PlaybookTask(key, title, description.strip(), due)


def _text(value: Any, source: str, name: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit:
        raise _invalid(source, f"{name}: text of 1 to {limit} characters")
    return value.strip()


def _invalid(source: str, problem: str) -> InvalidInput:
    return InvalidInput(
        N_("%(source)s is not a playbook: %(problem)s."),
        field="playbook",
        source=source[:200],
        problem=problem,
    )


def import_playbook(
    session: Session,
    text: bytes,
    *,
    source: str,
    actor: Actor,
    now: datetime,
    skip_known_versions: bool = False,
) -> PlaybookImport:
    """Store the playbook: new, a new version if its text changed, else nothing.

    ``skip_known_versions``: a text equal to any earlier version is not added again (the
    start-up install must not undo a newer version an officer imported).
    """
    definition = parse_playbook(text, source=source)
    digest = hashlib.sha256(text).hexdigest()
    playbook = session.scalar(select(Playbook).where(Playbook.key == definition.key))
    if playbook is None:
        playbook = Playbook(
            key=definition.key,
            incident_type=definition.incident_type.value,
            title=definition.title,
            current_version=0,
            updated_at=now,
        )
        session.add(playbook)
        session.flush()
    elif playbook.incident_type != definition.incident_type:
        raise _invalid(source, f"{playbook.key} is a {playbook.incident_type} playbook")
    else:
        known = _version_digests(session, playbook.id)
        if known.get(playbook.current_version) == digest or (
            skip_known_versions and digest in known.values()
        ):
            return PlaybookImport(ImportOutcome.UNCHANGED, playbook.key, playbook.current_version)
    return _add_version(session, playbook, definition, digest, actor=actor, now=now)


def _version_digests(session: Session, playbook_id: int) -> dict[int, str]:
    rows = session.execute(
        select(PlaybookVersion.version, PlaybookVersion.sha256).where(
            PlaybookVersion.playbook_id == playbook_id
        )
    )
    return dict(rows.all())


def _add_version(
    session: Session,
    playbook: Playbook,
    definition: PlaybookDefinition,
    digest: str,
    *,
    actor: Actor,
    now: datetime,
) -> PlaybookImport:
    outcome = ImportOutcome.CREATED if playbook.current_version == 0 else ImportOutcome.NEW_VERSION
    playbook.current_version += 1
    playbook.title = definition.title
    playbook.updated_at = now
    tasks = [
        {
            "key": task.key,
            "title": task.title,
            "description": task.description,
            "due_after_minutes": task.due_after_minutes,
        }
        for task in definition.tasks
    ]
    session.add(
        PlaybookVersion(
            playbook_id=playbook.id,
            version=playbook.current_version,
            tasks=orjson.dumps(tasks).decode(),
            sha256=digest,
            created_at=now,
            created_by=actor.name,
        )
    )
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="playbook.created" if outcome == ImportOutcome.CREATED else "playbook.new_version",
        target=f"playbook:{playbook.key}",
        outcome="success",
        now=now,
        details={"version": playbook.current_version, "sha256": digest},
    )
    return PlaybookImport(outcome, playbook.key, playbook.current_version)


def default_playbook_sources() -> list[tuple[str, bytes]]:
    """The playbooks shipped with Wachter (``incidents/playbooks/*.yml``), in name order."""
    folder = resources.files("incidents") / "playbooks"
    return [
        (f"playbooks/{entry.name}", entry.read_bytes())
        for entry in sorted(folder.iterdir(), key=lambda item: item.name)
        if entry.name.endswith(".yml")
    ]


def install_default_playbooks(
    session: Session, now: datetime, *, actor: Actor | None = None
) -> list[PlaybookImport]:
    """Install or update the shipped playbooks (called by ``serve`` at every start)."""
    return [
        import_playbook(
            session,
            text,
            source=source,
            actor=actor or Actor.system(),
            now=now,
            skip_known_versions=True,
        )
        for source, text in default_playbook_sources()
    ]


def list_playbooks(session: Session) -> list[Playbook]:
    return list(session.scalars(select(Playbook).order_by(Playbook.incident_type, Playbook.key)))


def playbook_version(session: Session, incident_type: str, key: str | None) -> PlaybookVersion:
    """The current version of ``key`` (default: the type's own playbook) for a new incident.

    ``NotFound`` when the type's default playbook is not installed (no tasks are made then);
    ``InvalidInput`` for a named playbook that does not exist or is for another type.
    """
    playbook = session.scalar(
        select(Playbook).where(Playbook.key == (key or default_key(incident_type)))
    )
    if playbook is None and key is None:
        raise NotFound(N_("No playbook is installed for this incident type."))
    if playbook is None or playbook.incident_type != incident_type:
        raise InvalidInput(
            N_("There is no %(type)s playbook \u201c%(key)s\u201d."),
            field="playbook",
            type=incident_type,
            key=(key or "")[:100],
        )
    version = session.scalar(
        select(PlaybookVersion).where(
            PlaybookVersion.playbook_id == playbook.id,
            PlaybookVersion.version == playbook.current_version,
        )
    )
    assert version is not None  # every playbook is stored with its first version
    return version


def tasks_of(version: PlaybookVersion) -> list[PlaybookTask]:
    return [PlaybookTask(**task) for task in orjson.loads(version.tasks)]


def apply_playbook(
    session: Session, incident: Incident, version: PlaybookVersion, *, actor: Actor
) -> list[IncidentTask]:
    """The version's tasks on the incident, due counted from the incident's creation."""
    tasks = [
        IncidentTask(
            incident_id=incident.id,
            origin_incident_id=incident.id,
            title=task.title,
            description=task.description,
            playbook_task_key=task.key,
            assignee_id=None,
            due_at=None
            if task.due_after_minutes is None
            else incident.created_at + timedelta(minutes=task.due_after_minutes),
            status=TaskStatus.OPEN.value,
            created_at=incident.created_at,
            created_by=actor.name,
        )
        for task in tasks_of(version)
    ]
    session.add_all(tasks)
    incident.playbook_version_id = version.id
    session.flush()
    return tasks
