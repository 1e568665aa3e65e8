"""The alert package and the feeds import each other while they load (alerts write feed
entries, the feed reads alert rows): whichever is imported first, both must load."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["incidents.feeds.changes", "incidents.feeds"])
def test_the_alert_package_loads_whichever_side_is_imported_first(module):
    code = f"import {module}; import incidents.alerts; print(incidents.alerts.raise_alerts)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
