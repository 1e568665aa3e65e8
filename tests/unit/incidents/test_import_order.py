"""Every module of ``incidents`` loads when it is the first one imported.

The subpackages use each other (alerts write feed entries, the feed reads alert rows,
cases use both), so an import cycle could work in the order the app happens to load them
and break a command that loads another module first. One interpreter imports each module
in turn from a clean slate (our packages removed from ``sys.modules`` in between).
"""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import importlib, pkgutil, sys
import incidents
names = sorted(m.name for m in pkgutil.walk_packages(incidents.__path__, "incidents."))
ours = ("core", "storage", "access_control", "detection_rules", "incidents")
failed = []
for name in names:
    for loaded in [m for m in sys.modules if m.split(".")[0] in ours]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as error:
        failed.append(f"{name}: {type(error).__name__}: {error}")
print(len(names))
print("\\n".join(failed))
"""


def test_every_incidents_module_loads_when_imported_first():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    count, *failures = done.stdout.strip().split("\n")
    assert int(count) > 40
    assert [line for line in failures if line] == []
