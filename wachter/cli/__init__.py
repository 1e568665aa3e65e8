"""The ``wachter`` command line. Each command group is a module that registers on ``cli``."""

from wachter.cli import db, service
from wachter.cli.base import cli

__all__ = ["cli", "db", "main", "service"]


def main() -> None:
    cli(prog_name="wachter")
