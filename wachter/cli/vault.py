"""The identity vault's key from the command line: ``wachter vault keygen|status|rotate``.

docs/identity-vault.md walks through a rotation: ``keygen`` prints a new ``key_id:key`` entry
to put in front of the key text, ``rotate`` re-seals and re-indexes everything under it, and
``status`` says when the old entry can be removed. No command prints an existing key.
"""

from __future__ import annotations

import click

from access_control import Actor
from core import SystemClock
from staff_safety.vault import keyring_for
from staff_safety.vault_crypto import VaultKeyring
from staff_safety.vault_rotation import rotate_vault, rotation_status
from wachter.cli.base import cli, prepare_migrated_command


@cli.group()
def vault() -> None:
    """The identity vault's keys (WACHTER_VAULT_KEYS; docs/identity-vault.md)."""


@vault.command("keygen")
@click.argument("key_id")
def keygen(key_id: str) -> None:
    """Print a new key entry KEY_ID:KEY (256 random bits) for the front of the key text."""
    try:
        entry = VaultKeyring.generate(key_id)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="KEY_ID") from None
    click.echo(entry)


@vault.command("status")
def status() -> None:
    """How much of the vault still needs a key other than the current one."""
    settings, database = prepare_migrated_command()
    keyring = keyring_for(settings)
    with database.unit_of_work() as session:
        found = rotation_status(session, keyring)
    database.dispose()
    click.echo(f"current key: {keyring.current_id}; keys configured: {', '.join(keyring.key_ids)}")
    click.echo(
        f"identities: {found.identities}; values to re-seal: {found.values_to_reseal}; "
        f"indexes to redo: {found.indexes_to_redo}; drafts to re-seal: {found.drafts_to_reseal}"
    )
    if found.done and len(keyring.key_ids) > 1:
        click.echo("Nothing depends on the older keys: they can be removed from the key text.")


@vault.command("rotate")
def rotate() -> None:
    """Re-seal and re-index everything under the current (first) key."""
    settings, database = prepare_migrated_command()
    keyring = keyring_for(settings)
    count = rotate_vault(database, keyring, now=SystemClock().now(), actor=Actor.command_line())
    with database.unit_of_work() as session:
        found = rotation_status(session, keyring)
    database.dispose()
    click.echo(f"Re-sealed {count} values under key {keyring.current_id}.")
    if found.done and len(keyring.key_ids) > 1:
        click.echo("Nothing depends on the older keys: they can be removed from the key text.")
