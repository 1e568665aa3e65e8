"""Encryption-key rotation: ``wachter keys rotate`` re-encrypts every secret with the first key."""

from __future__ import annotations

import click

from access_control.secret_box import SecretBox
from access_control.users import rotate_encrypted_secrets
from wachter.cli.base import cli, prepare_command


@cli.group()
def keys() -> None:
    """Keys that encrypt secrets at rest (WACHTER_ENCRYPTION_KEYS)."""


@keys.command("rotate")
def rotate() -> None:
    """Re-encrypt all secrets with the first key; afterwards older keys can be removed."""
    settings, database = prepare_command()
    box = SecretBox.from_settings(settings)
    with database.unit_of_work() as session:
        count = rotate_encrypted_secrets(session, box=box)
    click.echo(f"Re-encrypted {count} secrets with the first key of WACHTER_ENCRYPTION_KEYS.")
    if len(settings.encryption_keys) > 1:
        click.echo("The other keys are no longer needed and can be removed from the setting.")
