"""The real data beside the repository (``../shared/data``): logs, events, Sigma rules.

Never copied into the repository. Where it is absent (a user's machine) tests using it
skip with the reason; under CI=true that is a failure (``tests.conftest.unavailable``).
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import unavailable

ROOT = Path(
    os.environ.get("WACHTER_TEST_SHARED_DATA")
    or Path(__file__).resolve().parents[2].parent / "shared" / "data"
)


def shared_data(relative: str) -> Path:
    """The path of ``relative`` under the shared data folder, or skip/fail when missing."""
    path = ROOT / relative
    if not path.exists():
        unavailable(f"real data {relative} not found under {ROOT} (set WACHTER_TEST_SHARED_DATA)")
    return path
