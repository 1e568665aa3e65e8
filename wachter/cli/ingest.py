"""Log files from the command line: ``wachter ingest FILE…`` and ``wachter parse FILE…``.

``ingest`` stores the events (a progress bar with rate and ETA on a terminal; a re-run
resumes and stores nothing twice). ``parse`` stores nothing: it prints the events as
they would be stored, one JSON object per line, for checking a new source; rejected
records go to stderr with the reason, and the exit code is 1 when there were any.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import click
from tqdm import tqdm

from core import Settings, SystemClock
from ingest import FileRecord, ParseError, ParserOptions, files, finish
from storage import Database
from wachter.cli.base import cli, prepare_migrated_command
from wachter.logs import configure_logging

BATCH_RECORDS = 2000
FILES = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)
FORMAT_HELP = "Format of the files (default: guessed from their first lines); see docs/ingest.md."
MAPPING_HELP = "TOML column mapping for badge-csv [default: WACHTER_BADGE_MAPPING]."


def _options(settings: Settings, mapping: Path | None) -> ParserOptions:
    return ParserOptions(badge_mapping=mapping or settings.badge_mapping)


@cli.command("ingest")
@click.argument("paths", metavar="FILE...", nargs=-1, required=True, type=FILES)
@click.option("--format", "format_name", metavar="FORMAT", help=FORMAT_HELP)
@click.option("--mapping", type=FILES, help=MAPPING_HELP)
def ingest_files(paths: tuple[Path, ...], format_name: str | None, mapping: Path | None) -> None:
    """Store the events of log files (resumable: a re-run stores nothing twice)."""
    settings, database = prepare_migrated_command()
    options = _options(settings, mapping)
    for path in paths:
        _ingest_one(database, path, files.choose_format(path, format_name, options))
    database.dispose()


def _ingest_one(database: Database, path: Path, file_format: files.FileFormat) -> None:
    size = path.stat().st_size
    with database.snapshot() as session:
        start = files.resume_position(session, path, file_format)
    by_bytes = file_format.positions_are_bytes
    if by_bytes and start >= size > 0:
        click.echo(f"{path}: already ingested ({size} bytes); nothing new.")
        return
    run = _FileRun(database, path, file_format, position=start)
    started = time.monotonic()
    with tqdm(
        total=size if by_bytes else None,
        initial=start if by_bytes else 0,
        unit="B" if by_bytes else " records",
        unit_scale=by_bytes,
        desc=path.name,
        disable=None,  # only on a terminal
        file=sys.stderr,
    ) as progress:
        pending: list[FileRecord] = []
        now = SystemClock().now()
        for record in files.read_records(path, file_format, start=start, received=now):
            pending.append(record)
            if len(pending) >= BATCH_RECORDS:
                run.store(pending, progress)
                pending = []
        if pending:
            run.store(pending, progress)
    elapsed = max(time.monotonic() - started, 1e-6)
    click.echo(
        f"{path}: {run.stored} events stored, {run.duplicates} already there, "
        f"{run.rejected} rejected (format {file_format.name}; "
        f"{(run.stored + run.duplicates) / elapsed:,.0f} events/s)."
    )
    if run.rejected:
        click.echo("Rejected records are in the dead letters (console: Ingest).", err=True)


class _FileRun:
    """One file's ingest: stores stretches of records and keeps the counts."""

    def __init__(
        self,
        database: Database,
        path: Path,
        file_format: files.FileFormat,
        *,
        position: int,
    ) -> None:
        self.database, self.path, self.format = database, path, file_format
        self.position = position
        self.by_bytes = file_format.positions_are_bytes
        self.stored = self.duplicates = self.rejected = 0

    def store(self, records: list[FileRecord], progress: tqdm) -> None:
        with self.database.unit_of_work() as session:
            receipt = files.store_records(
                session,
                records,
                path=self.path,
                file_format=self.format,
                received=SystemClock().now(),
            )
        self.stored += receipt.stored
        self.duplicates += receipt.duplicates
        self.rejected += len(receipt.rejected)
        position = records[-1].position
        progress.update(position - self.position if self.by_bytes else len(records))
        self.position = position
        progress.set_postfix(events=self.stored + self.duplicates, refresh=False)


@cli.command("parse")
@click.argument("paths", metavar="FILE...", nargs=-1, required=True, type=FILES)
@click.option("--format", "format_name", metavar="FORMAT", help=FORMAT_HELP)
@click.option("--mapping", type=FILES, help=MAPPING_HELP)
def parse_files(paths: tuple[Path, ...], format_name: str | None, mapping: Path | None) -> None:
    """Print the events of log files as ECS JSON lines, storing nothing."""
    settings = Settings.from_env()  # no database: parse stores nothing
    configure_logging(settings.log_level)
    options = _options(settings, mapping)
    rejected = 0
    out = sys.stdout.buffer
    for path in paths:
        file_format = files.choose_format(path, format_name, options)
        now = SystemClock().now()
        for record in files.read_records(path, file_format, start=0, received=now):
            reason = _print_record(out, record, now)
            if reason:
                rejected += 1
                where = "byte" if file_format.positions_are_bytes else "record"
                click.echo(f"{path} ({where} {record.key}): {reason}", err=True)
    out.flush()
    if rejected:
        raise SystemExit(1)


def _print_record(out: BinaryIO, record: FileRecord, now: datetime) -> str | None:
    """Print the event as it would be stored; the reason when there is none."""
    if isinstance(record.result, ParseError):
        return record.result.reason
    key = files.event_key(record)
    try:
        stored = finish(record.result, source="file", event_key=key, ingested=now)
    except ParseError as error:
        return error.reason
    out.write(stored.document.encode() + b"\n")
    return None
