"""The ``wachter`` command line. Each command group is a module that registers on ``cli``,
imported when its command runs (``wachter.cli.base.COMMAND_MODULES``)."""

from wachter.cli.base import cli

__all__ = ["cli", "main"]


def main() -> None:
    cli(prog_name="wachter")
