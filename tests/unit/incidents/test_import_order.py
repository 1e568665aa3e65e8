"""Every module of ``incidents`` loads when it is the first one imported.

The subpackages use each other (alerts write feed entries, the feed reads alert rows,
cases use both), so an import cycle could work in the order the app happens to load them
and break a command that loads another module first. One interpreter loads the layers below
and forks a child per module, which imports that module first.
"""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import importlib, os, pathlib, sys
import access_control.models, detection_rules.service, storage.events  # the layers below, once
import filetype, fpdf, httpx, standardwebhooks.webhooks, stix2, yaml  # and the libraries
root = pathlib.Path(storage.__file__).parent.parent / "incidents"
# From the files, not pkgutil.walk_packages: that imports the subpackages to list them.
names = sorted(
    ".".join(("incidents", *path.relative_to(root).with_suffix("").parts)).removesuffix(
        ".__init__"
    )
    for path in root.rglob("*.py")
)
failed = []
for name in names:
    child = os.fork()  # a fresh process with no incidents module loaded yet
    if child == 0:
        try:
            importlib.import_module(name)
        except Exception as error:
            print(f"{name}: {type(error).__name__}: {error}", file=sys.stderr)
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(child, 0)
    if status != 0:
        failed.append(name)
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
