"""A live ``wachter serve`` on 127.0.0.1 and Debian's Chromium driven by Playwright."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import unavailable
from tests.support.processes import RunningProcess, clean_env, started

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        unavailable("Debian's chromium is not installed (make test installs it)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class LiveServer:
    def __init__(self, process: RunningProcess, base_url: str, setup_url: str | None) -> None:
        self.process = process
        self.base_url = base_url
        self.setup_url = setup_url


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A fresh Wachter (empty SQLite, first-run setup link) on a free loopback port."""
    env = clean_env(
        WACHTER_DATA_DIR=str(tmp_path / "var"),
        # the production argon2 cost is slow on 2 cores; the floor still meets OWASP
        WACHTER_ARGON2_MEMORY_KIB="19456",
        WACHTER_ARGON2_TIME_COST="2",
        WACHTER_ARGON2_PARALLELISM="1",
    )
    env.pop("http_proxy", None)
    with started("serve", "--port", "0", cwd=tmp_path, env=env) as process:
        base_url = process.wait_for_line("Wachter is running at ").split(" at ", 1)[1].rstrip("/")
        setup_line = process.wait_for_line("(valid for one hour")
        setup_url = setup_line.rsplit(" ", 1)[1]
        yield LiveServer(process, base_url, setup_url)
        assert process.stop() == 0
        logged = "\n".join(process.stderr_lines)
        assert setup_url.rsplit("/", 1)[1] not in logged, "the setup token reached the log"
