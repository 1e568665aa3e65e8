"""The ``wachter`` command line. Each command group is a module that registers on ``cli``."""

from wachter.cli import (
    alerts_export,
    audit,
    db,
    demo,
    detect,
    incidents,
    ingest,
    keys,
    rules,
    service,
    tokens,
    users,
    vault,
)
from wachter.cli.base import cli

__all__ = [
    "alerts_export",
    "audit",
    "cli",
    "db",
    "demo",
    "detect",
    "incidents",
    "ingest",
    "keys",
    "main",
    "rules",
    "service",
    "tokens",
    "users",
    "vault",
]


def main() -> None:
    cli(prog_name="wachter")
