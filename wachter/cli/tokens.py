"""API tokens for machines: ``wachter token add|list|revoke``.

``add`` prints the token alone on stdout (so ``wachter token add … > file`` captures just
the token) and everything else on stderr. No command ever prints a stored secret: there
is none to print, only its digest.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import click

from access_control.actor import Actor
from access_control.tokens import (
    MAX_LIFETIME,
    Scope,
    create_token,
    get_token,
    list_tokens,
    parse_scopes,
    revoke_token,
    token_state,
)
from core import SystemClock
from wachter.cli.base import cli, prepare_command

_LIFETIME = re.compile(r"([0-9]{1,5})([dh])", re.ASCII)
_LIST_COLUMNS = ("ID", "NAME", "PREFIX", "SCOPES", "CREATED", "EXPIRES", "LAST USED", "STATE")


# Domain errors (an unknown scope, a lifetime too long) end with one line and exit 1:
# the top-level group in wachter.cli.base turns them into click errors for every command.
@cli.group()
def token() -> None:
    """API tokens for machines (SIEM forwarders, SOC tooling)."""


@token.command("add")
@click.option("--name", required=True, help="What the token is for, e.g. 'siem-forwarder'.")
@click.option(
    "--scope",
    "scope_texts",
    required=True,
    multiple=True,
    help=f"Comma-separated or repeated, from: {', '.join(scope.value for scope in Scope)}.",
)
@click.option(
    "--expires",
    default=f"{MAX_LIFETIME.days}d",
    show_default=True,
    help=f"Lifetime in days or hours, like 30d or 12h (at most {MAX_LIFETIME.days}d).",
)
def add(name: str, scope_texts: tuple[str, ...], expires: str) -> None:
    """Create a token and print it once."""
    lifetime = parse_lifetime(expires)
    # A repeated --scope adds to the list (it used to keep only the last one, silently).
    scopes = parse_scopes(",".join(scope_texts))
    _settings, database = prepare_command()
    with database.unit_of_work() as session:
        created, text = create_token(
            session,
            name=name,
            scopes=scopes,
            owner_id=None,
            expires_in=lifetime,
            actor=Actor.command_line(),
            now=SystemClock().now(),
        )
        token_id, expires_at, scope_list = created.id, created.expires_at, created.scopes
    click.echo(
        f"Created token {token_id} '{created.name}' ({scope_list}), "
        f"expires {_format_time(expires_at)}.",
        err=True,
    )
    click.echo(text)
    click.echo(
        "Copy the token now: it cannot be shown again. Send it only in an "
        "'Authorization: Bearer' header, never in a URL.",
        err=True,
    )


@token.command("list")
def list_command() -> None:
    """Show every token and its state; never a secret (none is stored)."""
    _settings, database = prepare_command()
    now = SystemClock().now()
    with database.unit_of_work() as session:
        rows = [
            (
                str(row.id),
                row.name,
                f"wch_{row.public_id}_…",
                row.scopes,
                _format_time(row.created_at),
                _format_time(row.expires_at),
                _format_time(row.last_used_at) if row.last_used_at else "never",
                str(token_state(row, now=now)),
            )
            for row in list_tokens(session)
        ]
    if not rows:
        click.echo("No API tokens.")
        return
    widths = [
        max(len(cell) for cell in column) for column in zip(_LIST_COLUMNS, *rows, strict=True)
    ]
    for line in (_LIST_COLUMNS, *rows):
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )


@token.command("revoke")
@click.argument("token_id", metavar="ID", type=int)
def revoke(token_id: int) -> None:
    """Revoke a token at once (its next request is refused)."""
    _settings, database = prepare_command()
    with database.unit_of_work() as session:
        already_revoked = get_token(session, token_id).revoked_at is not None
        revoked = revoke_token(
            session, token_id=token_id, actor=Actor.command_line(), now=SystemClock().now()
        )
        name = revoked.name
    if already_revoked:
        click.echo(f"Token {token_id} '{name}' was already revoked.")
    else:
        click.echo(f"Revoked token {token_id} '{name}'.")


def parse_lifetime(text: str) -> timedelta:
    """``90d`` or ``12h``; the upper limit is the service's to check."""
    match = _LIFETIME.fullmatch(text.strip())
    if match is None:
        raise click.ClickException(
            f"--expires: {text[:20]!r} is not a lifetime; use days or hours, like 30d or 12h."
        )
    amount, unit = int(match.group(1)), match.group(2)
    return timedelta(days=amount) if unit == "d" else timedelta(hours=amount)


def _format_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
