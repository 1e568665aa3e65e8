"""The ``wachter`` command line. Each command group is a module that registers on ``cli``."""

from wachter.cli import audit, db, detect, ingest, keys, rules, service, tokens, users
from wachter.cli.base import cli

__all__ = [
    "audit",
    "cli",
    "db",
    "detect",
    "ingest",
    "keys",
    "main",
    "rules",
    "service",
    "tokens",
    "users",
]


def main() -> None:
    cli(prog_name="wachter")
