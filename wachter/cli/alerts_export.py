"""``wachter alerts export --stix [--since ISO] [--until ISO] [--output FILE]``: the IP
addresses alerts saw, as a STIX 2.1 bundle for a threat-intel platform (docs/feeds.md).

The bundle is read from a snapshot (no write lock held while it is built), written to the
file (atomically: a reader never sees half a bundle) or to standard output, and the export
is audited as ``alerts.exported`` by the operator's OS account.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from access_control import Actor
from core import SystemClock
from incidents.feeds.stix import alerts_bundle, export_range, record_export
from wachter.cli.base import cli, prepare_migrated_command


def _alerts_group() -> click.Group:
    """``wachter alerts``, made here unless another module made it first."""
    existing = cli.commands.get("alerts")
    if isinstance(existing, click.Group):
        return existing

    @cli.group()
    def alerts() -> None:
        """Alerts: exports for threat-intel platforms."""

    return alerts


@_alerts_group().command("export")
@click.option("--stix", "as_stix", is_flag=True, help="A STIX 2.1 bundle (the only format).")
@click.option("--since", metavar="ISO", help="From this time (ISO 8601; default: a day ago).")
@click.option("--until", metavar="ISO", help="Up to this time (ISO 8601; default: now).")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the bundle to FILE instead of standard output.",
)
def export(as_stix: bool, since: str | None, until: str | None, output: Path | None) -> None:
    """Export the IP addresses of alerts as STIX 2.1 (at most 90 days at a time).

    An identity for the organisation, an indicator per address and a sighting per alert;
    no accounts or other personal data. Ids stay the same across exports.
    """
    if not as_stix:
        raise click.UsageError("choose a format: --stix")
    _settings, database = prepare_migrated_command()
    now = SystemClock().now()
    start, end = export_range(since, until, now=now)
    with database.snapshot() as session:
        bundle = alerts_bundle(session, since=start, until=end)
    text = bundle.serialize(pretty=False)
    if output is not None:
        _write_atomically(output, text)
    with database.unit_of_work() as session:
        counts = record_export(
            session,
            bundle=bundle,
            since=start,
            until=end,
            actor=Actor.command_line(),
            now=now,
            destination="stdout" if output is None else "file",
        )
    database.dispose()
    if output is None:
        click.echo(text)
    click.echo(
        f"Exported {counts['alerts']} alerts: {counts['indicator']} indicators, "
        f"{counts['sighting']} sightings ({start.isoformat()} to {end.isoformat()}).",
        err=True,
    )


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` beside ``path`` and rename it into place (readable by us only)."""
    try:
        handle, temporary = tempfile.mkstemp(prefix=".stix-", dir=path.parent)
    except OSError as error:
        raise click.ClickException(f"cannot write {path}: {error.strerror or error}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise click.ClickException(f"cannot write {path}: {error.strerror or error}") from None
