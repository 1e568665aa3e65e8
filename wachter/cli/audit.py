"""The audit trail from the command line: ``wachter audit verify|list``.

Both read from a snapshot that takes no write lock: on SQLite a deferred read transaction
(WAL), on PostgreSQL a read-only REPEATABLE READ transaction. ``verify`` needs one
consistent state: under READ COMMITTED an entry committed while the walk runs would make
the chain head disagree with the walked chain and look like removed entries.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click
from sqlalchemy import event
from sqlalchemy.orm import Session

from access_control.audit import (
    MAX_LISTED,
    OUTCOMES,
    ChainReport,
    list_entries,
    verify_chain,
)
from access_control.models import AuditChainHead, AuditEntry
from wachter.cli.base import cli, prepare_migrated_command

EXIT_BROKEN = 1
# Below this many entries the walk takes well under a second: no progress bar.
PROGRESS_MIN_ENTRIES = 10_000


@cli.group()
def audit() -> None:
    """The tamper-evident audit trail."""


@audit.command()
def verify() -> None:
    """Check the hash chain; exit 1 at the first changed or removed entry."""
    _settings, database = prepare_migrated_command()
    with database.snapshot() as session:
        report = _verify_with_progress(session)
    database.dispose()
    if report.is_intact:
        click.echo(f"Audit trail intact: {report.checked} entries, head {report.head_hash}")
        return
    click.echo(
        f"Audit trail BROKEN at entry {report.broken_at}: {report.problem} "
        f"({report.checked} entries before it verified)"
    )
    sys.exit(EXIT_BROKEN)


def _parse_time(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("expected an ISO 8601 time, e.g. 2026-03-01T09:30Z") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@audit.command("list")
@click.option("--action", "action_prefix", metavar="PREFIX", help="Actions starting with this.")
@click.option("--actor", metavar="NAME", help="Only this actor (exact name).")
@click.option("--outcome", type=click.Choice(OUTCOMES), help="Only this outcome.")
@click.option(
    "--since",
    metavar="ISO",
    callback=_parse_time,
    help="At or after this time (ISO 8601; UTC unless an offset is given).",
)
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_LISTED),
    default=50,
    show_default=True,
    help="At most this many entries.",
)
def list_(
    action_prefix: str | None,
    actor: str | None,
    outcome: str | None,
    since: datetime | None,
    limit: int,
) -> None:
    """Show entries, newest first.

    One line each: time (UTC), actor, action, target, outcome, IP address.
    """
    _settings, database = prepare_migrated_command()
    with database.snapshot() as session:
        entries = list_entries(
            session,
            action_prefix=action_prefix,
            actor=actor,
            outcome=outcome,
            since=since,
            limit=limit,
        )
    database.dispose()
    for entry in entries:
        click.echo(format_entry(entry))
    if not entries:
        click.echo("No matching audit entries.", err=True)


def format_entry(entry: AuditEntry) -> str:
    fields = (
        entry.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        entry.actor,
        entry.action,
        entry.target,
        entry.outcome,
        entry.ip or "-",
    )
    return "  ".join(_printable(field) for field in fields)


def _printable(text: str) -> str:
    """Control characters escaped: a target can neither forge a line nor drive the terminal."""
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )


def _verify_with_progress(session: Session) -> ChainReport:
    head = session.get(AuditChainHead, 1)
    total = head.last_entry_id if head is not None else 0
    if total < PROGRESS_MIN_ENTRIES or not sys.stderr.isatty():
        return verify_chain(session)
    with (
        click.progressbar(
            length=total,
            label="Verifying the audit trail",
            file=sys.stderr,
            update_min_steps=max(1, total // 200),
        ) as bar,
        _counting_loaded_entries(session, lambda: bar.update(1)),
    ):
        return verify_chain(session)


@contextmanager
def _counting_loaded_entries(session: Session, on_entry: Callable[[], None]) -> Iterator[None]:
    def loaded(_session: Session, instance: Any) -> None:
        if isinstance(instance, AuditEntry):
            on_entry()

    event.listen(session, "loaded_as_persistent", loaded)
    try:
        yield
    finally:
        event.remove(session, "loaded_as_persistent", loaded)
