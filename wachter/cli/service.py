"""Running Wachter: ``serve``, ``worker`` and ``version``."""

from __future__ import annotations

import sys

import click

from access_control import Actor, enrolment, users
from core import Settings, SystemClock
from detection_rules import service as rule_service
from incidents.cases.playbooks import install_default_playbooks
from storage import Database, migrate
from wachter.cli.base import StartupFailed, cli, prepare_command
from wachter.cli.demo import load_if_allowed, officer_sign_in
from wachter.collectors import announcement, collecting
from wachter.demo import DEFAULT_DAYS, DEFAULT_SEED, Summary
from wachter.jobs import BackgroundJobs, jobs_for
from wachter.server import dump_stacks_on_sigusr1, running, serve_http, wait_for_signal
from web import create_app


@cli.command()
@click.option("--host", help="Address to listen on [default: WACHTER_HTTP_HOST or 127.0.0.1].")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="Port [default: WACHTER_HTTP_PORT or 8080; 0 picks a free one].",
)
def serve(host: str | None, port: int | None) -> None:
    """Run everything in one process: web console, API, collectors and background jobs."""
    dump_stacks_on_sigusr1()
    settings, database = prepare_command()
    migrate.upgrade(database)
    pack_news = _install_rule_packs(database)
    _install_default_playbooks(database)
    demo_hint, demo = _offer_demo(settings, database)
    app = create_app(settings, database=database)
    setup_token = _first_run_setup_token(database)

    def announce(base_url: str) -> None:
        public = settings.public_url or base_url
        click.echo(f"Wachter is running at {base_url}/")
        if pack_news:
            click.echo(pack_news)
        if setup_token:
            click.echo("First run: no administrator yet. Create the administrator account here")
            click.echo(f"(valid for one hour, works once): {public}/setup/{setup_token}")
        if demo_hint:
            click.echo("To explore with a realistic sample: wachter demo")
        if demo is not None:
            officer_sign_in(public, demo)
        click.echo(f"Sign in at {public}/login · readiness at {base_url}/readyz · stop with Ctrl+C")

    with (
        collecting(settings, database) as listeners,
        running(BackgroundJobs(database, jobs_for(settings), clock=SystemClock())),
    ):
        for listener in listeners:
            click.echo(announcement(listener))
        serve_http(
            app,
            settings,
            host=host or settings.http_host,
            port=settings.http_port if port is None else port,
            announce=announce,
        )
    database.dispose()


def _install_rule_packs(database: Database) -> str | None:
    """Wachter's own rules into the registry (idempotent); a line to show when any changed."""
    with database.unit_of_work() as session:
        report = rule_service.install_packs(session, actor=Actor.system(), now=SystemClock().now())
    new = len(report.with_outcome(rule_service.ImportOutcome.CREATED))
    updated = len(report.with_outcome(rule_service.ImportOutcome.NEW_VERSION))
    if not new and not updated:
        return None
    return f"Wachter's rule pack: {new} rules added, {updated} updated (see /rules)."


def _install_default_playbooks(database: Database) -> None:
    """The shipped playbooks (idempotent; an officer's newer version of one is kept)."""
    with database.unit_of_work() as session:
        install_default_playbooks(session, SystemClock().now())


def _offer_demo(settings: Settings, database: Database) -> tuple[bool, Summary | None]:
    """First run (no accounts): on a terminal, offer the demo sample and load it on yes.

    Without a terminal (a service manager, the browser tests' stdin from /dev/null) nothing
    is asked, so nothing blocks: (True, None) says to print the one-line hint instead.
    """
    with database.snapshot() as session:
        if users.has_users(session):
            return False, None
    if not sys.stdin.isatty():
        return True, None
    if not click.confirm("Load a demo sample to explore the console?", default=False):
        return False, None
    loaded = load_if_allowed(
        settings, database, seed=DEFAULT_SEED, days=DEFAULT_DAYS, force=False, print_link=False
    )
    return False, loaded


def _first_run_setup_token(database: Database) -> str | None:
    """No administrator yet: a one-time link to make the first (printed, never logged)."""
    with database.unit_of_work() as session:
        if users.has_administrator(session):
            return None
        return enrolment.create_first_admin_link(session, now=SystemClock().now())


@cli.command()
def worker() -> None:
    """Run the collectors and background jobs only (add as many as you need)."""
    dump_stacks_on_sigusr1()
    settings, database = prepare_command()
    if not migrate.is_up_to_date(database):
        raise StartupFailed("the database schema is not up to date; run `wachter db upgrade` first")
    with (
        collecting(settings, database) as listeners,
        running(BackgroundJobs(database, jobs_for(settings), clock=SystemClock())),
    ):
        for listener in listeners:
            click.echo(announcement(listener))
        wait_for_signal(lambda: click.echo("Wachter worker running; stop with Ctrl+C"))
    database.dispose()
