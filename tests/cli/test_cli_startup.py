"""The command line loads a command's module only when that command runs, so a quick
command (``wachter version``, ``wachter token list``) does not load the web console,
pySigma or the report writers first; the table of commands stays true to the modules."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import wachter.cli
from wachter.cli.base import COMMAND_MODULES, cli


def test_the_table_names_every_command_the_modules_register_and_no_other():
    for module in pkgutil.iter_modules(wachter.cli.__path__):
        importlib.import_module(f"wachter.cli.{module.name}")
    assert set(cli.commands) == set(COMMAND_MODULES)
    for name, module in COMMAND_MODULES.items():
        assert cli.commands[name].callback.__module__.startswith(f"wachter.cli.{module}"), name


def test_a_quick_command_loads_neither_the_console_nor_the_rule_engine():
    probe = (
        "import sys\n"
        "from wachter.cli import cli\n"
        "try:\n"
        "    cli(['version'], prog_name='wachter')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('flask', 'sigma', 'stix2', 'fpdf') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    lines = result.stdout.splitlines()
    assert lines[0].startswith("wachter ")
    assert lines[-1] == "[]"


def test_help_still_lists_every_command():
    listed = cli.list_commands(None)  # type: ignore[arg-type]
    assert listed == sorted(COMMAND_MODULES)
