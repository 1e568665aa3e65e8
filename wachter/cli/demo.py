"""``wachter demo``: load a realistic sample to explore the console (an empty installation only).

The sample is made by ``wachter.demo`` through Wachter's own paths. The command refuses an
installation that is already in use (exit code 1, nothing written) unless ``--force``, and a
second run finds the sample and writes nothing. ``serve`` offers it on a first run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import click

from core import Settings, SystemClock
from storage import Database, migrate
from wachter.cli.base import cli, prepare_command
from wachter.demo import DEFAULT_DAYS, DEFAULT_SEED, DemoState, Summary, find_state, load_demo

EXIT_REFUSED = 1


@cli.command()
@click.option(
    "--seed",
    type=int,
    default=DEFAULT_SEED,
    show_default=True,
    help="Seed of the generators: the same seed makes the same mix (times follow today).",
)
@click.option(
    "--days",
    type=click.IntRange(1, 60),
    default=DEFAULT_DAYS,
    show_default=True,
    help="Days of log events up to now.",
)
@click.option("--force", is_flag=True, help="Load it even into an installation already in use.")
def demo(seed: int, days: int, force: bool) -> None:
    """Load a realistic sample (events, alerts, incidents, aggression reports) to explore."""
    settings, database = prepare_command()
    migrate.upgrade(database)
    try:
        load_if_allowed(settings, database, seed=seed, days=days, force=force)
    finally:
        database.dispose()


def load_if_allowed(
    settings: Settings,
    database: Database,
    *,
    seed: int,
    days: int,
    force: bool,
    print_link: bool = True,
) -> Summary | None:
    """The sample, unless it is already there or the installation is in use (and not forced).

    ``print_link`` False: the caller prints the officer's sign-in link itself (``serve``
    knows its real address only once it listens).
    """
    with database.snapshot() as session:
        found = find_state(session)
    if found.state == DemoState.LOADED:
        click.echo("The demo sample is already loaded; nothing written.")
        click.echo("A new sign-in link for the demo officer: wachter user link demo-s.dekker")
        return None
    if found.state == DemoState.IN_USE and not force:
        click.echo(
            f"Refused: this installation is in use ({found.reason}); the demo sample would mix "
            "with real data. Nothing written. Use an empty WACHTER_DATA_DIR (or --force).",
            err=True,
        )
        raise SystemExit(EXIT_REFUSED)
    click.echo(f"Loading the demo sample (seed {seed}, {days} days of events)…")
    with _quiet_job_logs():
        summary = load_demo(
            database, settings, now=SystemClock().now(), seed=seed, days=days, progress=_step
        )
    _report(settings, summary, print_link=print_link)
    return summary


@contextmanager
def _quiet_job_logs() -> Iterator[None]:
    """Warnings only while loading: the jobs' info lines (one per slice) would bury the steps."""
    logger = logging.getLogger("wachter")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def _step(line: str) -> None:
    click.echo(f"  · {line}")


def _report(settings: Settings, summary: Summary, *, print_link: bool) -> None:
    click.echo(
        f"Demo sample loaded in {summary.seconds:.1f} s: {summary.events} events, "
        f"{summary.rejected} rejected lines, {summary.detections} detections, "
        f"{summary.alerts} alerts, {len(summary.incidents)} incidents, "
        f"{summary.reports} aggression reports."
    )
    if print_link:
        officer_sign_in(settings.base_url, summary)
        click.echo(
            f"Then sign in and open the dashboard: {settings.base_url}/ (`wachter serve` runs "
            "it). Demo accounts and sources are named demo-…"
        )
    if not summary.has_admin:
        click.echo(
            "No administrator yet: `wachter serve` prints the one-time setup link for the first "
            "(or make one with `wachter user add NAME --role admin`)."
        )


def officer_sign_in(base_url: str, summary: Summary) -> None:
    """Where the demo officer chooses a password (the one account to explore the sample with)."""
    click.echo(
        f"Sign in as {summary.officer} (security officer): choose a password and set up "
        "the authenticator app here (valid 3 days, works once):"
    )
    click.echo(f"  {base_url}/enrol/{summary.officer_link}")
