"""Accounts from the command line: ``wachter user add|link|list|disable|enable|unlock|…``."""

from __future__ import annotations

import click

from access_control import Actor, Role, enrolment, users
from core import SystemClock
from wachter.cli.base import cli, prepare_command

ROLE_CHOICE = click.Choice([role.value for role in Role])


@cli.group()
def user() -> None:
    """Manage accounts. New accounts get a one-time enrolment link."""


def _link(base_url: str, token: str) -> str:
    return f"{base_url}/enrol/{token}"


@user.command("add")
@click.argument("name")
@click.option("--role", type=ROLE_CHOICE, required=True, help="What the account may do.")
@click.option("--display-name", default="", help="The person's name as shown in the console.")
@click.option("--email", default="", help="Where incident notifications go (optional).")
def add(name: str, role: str, display_name: str, email: str) -> None:
    """Create account NAME and print its enrolment link (valid 3 days, single use)."""
    settings, database = prepare_command()
    now = SystemClock().now()
    with database.unit_of_work() as session:
        account = users.create_user(
            session,
            username=name,
            display_name=display_name or name,
            role=role,
            actor=Actor.command_line(),
            now=now,
        )
        if email.strip():
            users.set_email(session, user=account, email=email, actor=Actor.command_line(), now=now)
        token = enrolment.create_enrolment_link(
            session, user=account, actor=Actor.command_line(), now=now
        )
    click.echo(
        f"Created {account.username} ({role}). Send this one-time link to them (valid 3 days):"
    )
    click.echo(_link(settings.base_url, token))


@user.command("link")
@click.argument("name")
def link(name: str) -> None:
    """A new enrolment link for NAME (forgotten password); earlier links stop working."""
    settings, database = prepare_command()
    with database.unit_of_work() as session:
        account = users.get_user(session, name)
        token = enrolment.create_enrolment_link(
            session, user=account, actor=Actor.command_line(), now=SystemClock().now()
        )
    click.echo(_link(settings.base_url, token))


@user.command("list")
def list_accounts() -> None:
    """Show every account with its role and state."""
    _settings, database = prepare_command()
    with database.unit_of_work() as session:
        accounts = users.list_users(session)
        rows = [
            (
                a.username,
                a.role,
                _state(a.is_active, a.locked_at is not None, a.totp_secret is not None),
                a.display_name,
            )
            for a in accounts
        ]
    if not rows:
        click.echo(
            "No accounts yet. Start `wachter serve` for the first administrator's setup link."
        )
        return
    width = max(len(row[0]) for row in rows)
    for username, role, state, display in rows:
        click.echo(f"{username:<{width}}  {role:<16}  {state:<22}  {display}")


def _state(active: bool, locked: bool, enrolled: bool) -> str:
    if not active:
        return "disabled"
    if locked:
        return "locked (MFA failures)"
    return "active" if enrolled else "active, not enrolled"


def _change(name: str, action: str) -> None:
    _settings, database = prepare_command()
    now, actor = SystemClock().now(), Actor.command_line()
    with database.unit_of_work() as session:
        account = users.get_user(session, name)
        {
            "disable": users.disable_user,
            "enable": users.enable_user,
            "unlock": users.unlock_user,
            "reset-mfa": users.reset_mfa,
        }[action](session, user=account, actor=actor, now=now)
    click.echo(f"{account.username}: {action} done")


@user.command("disable")
@click.argument("name")
def disable(name: str) -> None:
    """Disable NAME: sessions and API tokens end at once."""
    _change(name, "disable")


@user.command("enable")
@click.argument("name")
def enable(name: str) -> None:
    """Enable NAME again."""
    _change(name, "enable")


@user.command("unlock")
@click.argument("name")
def unlock(name: str) -> None:
    """Lift the lock that 10 consecutive wrong codes put on NAME."""
    _change(name, "unlock")


@user.command("reset-mfa")
@click.argument("name")
def reset_mfa(name: str) -> None:
    """Remove NAME's authenticator and recovery codes; they set up a new one at next sign-in."""
    _change(name, "reset-mfa")


@user.command("role")
@click.argument("name")
@click.argument("role", type=ROLE_CHOICE)
def change_role(name: str, role: str) -> None:
    """Give NAME another role: their sessions and API tokens end at once."""
    _settings, database = prepare_command()
    with database.unit_of_work() as session:
        account = users.get_user(session, name)
        users.change_role(
            session, user=account, role=role, actor=Actor.command_line(), now=SystemClock().now()
        )
    click.echo(f"{name}: role is now {role}")
