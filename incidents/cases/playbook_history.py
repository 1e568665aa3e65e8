"""A playbook's versions as the console shows them, and a version as YAML to adapt.

A version keeps its tasks (``PlaybookVersion.tasks``), not the file it came from, so the
YAML of a version is written again from them: the same fields ``parse_playbook`` reads, in
its order, with the playbook's current title (titles are not versioned). Importing that text
unchanged makes no new version only when it is byte for byte the imported one; an officer
edits it and imports the result as the next version.
"""

from __future__ import annotations

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import NotFound
from core.i18n import N_
from incidents.cases.models import Playbook, PlaybookVersion
from incidents.cases.playbooks import tasks_of


def get_playbook(session: Session, key: str) -> Playbook:
    playbook = session.scalar(select(Playbook).where(Playbook.key == key))
    if playbook is None:
        raise NotFound(N_("There is no playbook \u201c%(key)s\u201d."), key=key[:100])
    return playbook


def playbook_versions(session: Session, playbook: Playbook) -> list[PlaybookVersion]:
    """Every version of ``playbook``, the newest first."""
    query = (
        select(PlaybookVersion)
        .where(PlaybookVersion.playbook_id == playbook.id)
        .order_by(PlaybookVersion.version.desc())
    )
    return list(session.scalars(query))


def version_of(session: Session, playbook: Playbook, version: int | None) -> PlaybookVersion:
    """Version ``version`` of ``playbook`` (default: the current one)."""
    wanted = playbook.current_version if version is None else version
    found = session.scalar(
        select(PlaybookVersion).where(
            PlaybookVersion.playbook_id == playbook.id, PlaybookVersion.version == wanted
        )
    )
    if found is None:
        raise NotFound(
            N_("Playbook \u201c%(key)s\u201d has no version %(version)s."),
            key=playbook.key,
            version=wanted,
        )
    return found


def playbook_yaml(playbook: Playbook, version: PlaybookVersion) -> str:
    """The version as a playbook file, ready to edit and import."""
    tasks = []
    for task in tasks_of(version):
        entry: dict[str, object] = {"key": task.key, "title": task.title}
        if task.description:
            entry["description"] = task.description
        if task.due_after_minutes is not None:
            entry["due_after_minutes"] = task.due_after_minutes
        tasks.append(entry)
    document = {
        "key": playbook.key,
        "incident_type": playbook.incident_type,
        "title": playbook.title,
        "tasks": tasks,
    }
    header = (
        f"# Playbook {playbook.key}, version {version.version}, exported from Wachter.\n"
        "# Edit it and import it again (console: Playbooks, or `wachter playbooks import`):\n"
        "# a changed text becomes the next version; open incidents keep their tasks.\n"
    )
    return header + yaml.safe_dump(
        document, allow_unicode=True, sort_keys=False, width=88, default_flow_style=False
    )
