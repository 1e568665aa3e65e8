"""Incident playbooks from the command line: ``wachter playbooks list|import FILE…``.

``import`` stores each file's playbook: a new playbook, a new version when its text changed,
or nothing when it is the same (incidents keep the version they were opened with). A file
that is not a playbook is reported on stderr with the reason and the others are imported
all the same; the command then exits 1. ``serve`` installs Wachter's own playbooks itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import orjson
from sqlalchemy import select

from access_control import Actor
from core import InvalidInput, SystemClock
from incidents.cases.models import PlaybookVersion
from incidents.cases.playbooks import ImportOutcome, import_playbook, list_playbooks
from wachter.cli.base import cli, prepare_migrated_command

_OUTCOMES = {
    ImportOutcome.CREATED: "new",
    ImportOutcome.NEW_VERSION: "new version",
    ImportOutcome.UNCHANGED: "unchanged",
}


@cli.group()
def playbooks() -> None:
    """Incident playbooks: versioned task templates per incident type."""


@playbooks.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
def list_command(as_json: bool) -> None:
    """The playbooks with their current version and number of tasks."""
    _settings, database = prepare_migrated_command()
    with database.unit_of_work() as session:
        rows = []
        for playbook in list_playbooks(session):
            tasks = session.scalar(
                select(PlaybookVersion.tasks).where(
                    PlaybookVersion.playbook_id == playbook.id,
                    PlaybookVersion.version == playbook.current_version,
                )
            )
            rows.append(
                {
                    "key": playbook.key,
                    "incident_type": playbook.incident_type,
                    "version": playbook.current_version,
                    "tasks": len(orjson.loads(tasks or "[]")),
                    "title": playbook.title,
                }
            )
    database.dispose()
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    elif not rows:
        click.echo("No playbooks.")
    else:
        click.echo(f"{'KEY':<30} {'TYPE':<14} {'VERSION':>7} {'TASKS':>5}  TITLE")
        for row in rows:
            click.echo(
                f"{row['key']:<30} {row['incident_type']:<14} {row['version']:>7} "
                f"{row['tasks']:>5}  {row['title']}"
            )


@playbooks.command("import")
@click.argument(
    "files",
    metavar="FILE...",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
def import_command(files: tuple[Path, ...]) -> None:
    """Import playbooks from YAML files; an edited playbook becomes a new version."""
    _settings, database = prepare_migrated_command()
    failed = 0
    with database.unit_of_work() as session:
        for path in files:
            try:
                result = import_playbook(
                    session,
                    path.read_bytes(),
                    source=path.name,
                    actor=Actor.command_line(),
                    now=SystemClock().now(),
                )
            except InvalidInput as error:
                click.echo(error.message, err=True)
                failed += 1
                continue
            click.echo(f"{result.key}: {_OUTCOMES[result.outcome]} (version {result.version})")
    database.dispose()
    if failed:
        raise SystemExit(1)
