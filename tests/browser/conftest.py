"""A live ``wachter serve`` on 127.0.0.1 and Debian's Chromium driven by Playwright.

Two servers:
- ``live_server``: a fresh, empty Wachter per test (the first-run setup link), for the tests
  that are about a first run;
- ``shared_server``: ONE Wachter per test process with the demo sample loaded and a security
  officer and a member of staff enrolled and signed in once through the real login (password,
  then TOTP); their Playwright ``storage_state`` lets every other test open a signed-in context
  without signing in again (each sign-in costs an argon2 hash and a TOTP step).

Every page a test opens through ``open_page`` is watched: a console error, an uncaught exception
or a Content-Security-Policy violation fails the test (see ``PageWatch``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    sync_playwright,
)

from tests.conftest import unavailable
from tests.support.processes import RunningProcess, clean_env, run_wachter, started

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
PASSWORD = "paarse olifanten dansen op het dak"
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 900}}
SCREENSHOTS = Path(__file__).parent / "screenshots"
# the production argon2 cost is slow on 2 cores; the floor still meets OWASP
LOW_ARGON2 = {
    "WACHTER_ARGON2_MEMORY_KIB": "19456",
    "WACHTER_ARGON2_TIME_COST": "2",
    "WACHTER_ARGON2_PARALLELISM": "1",
}
# Chromium reports a CSP violation on the console too, but only the event names the directive;
# an init script (run by the DevTools protocol, so not itself subject to the page's CSP) turns
# each event into a console error the watch collects.
CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile}:${event.lineNumber}`);
});
"""


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
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


def _server_env(data_dir: Path) -> dict[str, str]:
    env = clean_env(WACHTER_DATA_DIR=str(data_dir), **LOW_ARGON2)
    env.pop("http_proxy", None)
    return env


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A fresh Wachter (empty SQLite, first-run setup link) on a free loopback port."""
    env = _server_env(tmp_path / "var")
    with started("serve", "--port", "0", cwd=tmp_path, env=env) as process:
        base_url = process.wait_for_line("Wachter is running at ").split(" at ", 1)[1].rstrip("/")
        setup_line = process.wait_for_line("(valid for one hour")
        setup_url = setup_line.rsplit(" ", 1)[1]
        yield LiveServer(process, base_url, setup_url)
        assert process.stop() == 0
        logged = "\n".join(process.stderr_lines)
        assert setup_url.rsplit("/", 1)[1] not in logged, "the setup token reached the log"


# --- the shared server ---------------------------------------------------------------------


@dataclass
class Account:
    """An enrolled account: its TOTP secret and the last time step a code was used for."""

    username: str
    role: str
    secret: str
    last_step: int
    storage_state: Path | None = None

    def next_code(self) -> str:
        """A code for a step after the last used one (a used step is refused as a replay);
        the server accepts the step after the current one, so this never waits."""
        totp = pyotp.TOTP(self.secret)
        step = max(int(time.time()) // totp.interval, self.last_step + 1)
        self.last_step = step
        return totp.at(step * totp.interval)


@dataclass
class SharedServer:
    process: RunningProcess
    base_url: str
    cwd: Path
    env: dict[str, str]
    accounts: dict[str, Account] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


def _choose_password(page: Page) -> None:
    page.fill("#password", PASSWORD)
    page.fill("#password_again", PASSWORD)
    page.click("button.primary")


def _enrol_totp(page: Page, username: str, role: str) -> Account:
    """The enrolment page's secret → the first code → past the recovery codes."""
    account = Account(username, role, page.inner_text("#totp-secret").strip(), last_step=0)
    page.fill("#code", account.next_code())
    page.click("button.primary")
    page.locator("a.button.primary").click()  # the recovery codes are kept
    return account


def first_admin(browser: Browser, server: SharedServer, setup_url: str) -> Account:
    """The first-run setup link, as a newcomer uses it; the admin stays signed in."""
    context = browser.new_context(locale="nl-NL")
    page = context.new_page()
    page.goto(setup_url)
    page.fill("#username", "beheer")
    page.fill("#display_name", "Anna de Vries")
    _choose_password(page)
    account = _enrol_totp(page, "beheer", "admin")
    account.storage_state = server.cwd / "beheer.json"
    context.storage_state(path=str(account.storage_state))
    context.close()
    return account


def enrol(browser: Browser, server: SharedServer, username: str, role: str) -> Account:
    """The administrator adds the account on the users page and hands over the one-time
    link; the new colleague chooses a password and enrols TOTP (then is signed in)."""
    admin = server.accounts["admin"]
    context = browser.new_context(locale="nl-NL", storage_state=str(admin.storage_state))
    page = context.new_page()
    page.goto(server.url("/admin/users"))
    page.fill("#username", username)
    page.fill("#display_name", username.capitalize())
    page.select_option("#role", role)
    page.locator("form[action$='/admin/users'] button[type=submit]").click()
    link = page.input_value("#enrolment-link")
    page.goto(server.url(link[link.index("/enrol/") :]))
    _choose_password(page)
    account = _enrol_totp(page, username, role)
    context.close()
    return account


def sign_in(page: Page, server: SharedServer, account: Account) -> None:
    """The real sign-in: username and password, then a TOTP code."""
    page.goto(server.url("/login"))
    page.fill("#username", account.username)
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    assert page.url.endswith("/login/code"), page.url
    page.fill("#code", account.next_code())
    page.click("button.primary")
    assert "/login" not in page.url, page.url


def _load_demo(server: SharedServer) -> None:
    """``wachter demo`` (helper D's command) when this checkout has it."""
    probe = run_wachter("demo", "--help", cwd=server.cwd, env=server.env)
    if probe.returncode != 0:
        return
    # Three days of logs (the stories all happen in them) load in a third of the time.
    result = run_wachter("demo", "--days", "3", cwd=server.cwd, env=server.env, timeout=300)
    assert result.returncode == 0, f"wachter demo: {result.stdout}\n{result.stderr}"


@pytest.fixture(scope="session")
def shared_server(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SharedServer]:
    """One Wachter for this test process: the first admin, the demo sample, a security officer
    and a member of staff, each signed in once through the real login."""
    cwd = tmp_path_factory.mktemp("shared-server")
    env = _server_env(cwd / "var")
    with started("serve", "--port", "0", cwd=cwd, env=env) as process:
        base_url = process.wait_for_line("Wachter is running at ").split(" at ", 1)[1].rstrip("/")
        setup_url = process.wait_for_line("(valid for one hour").rsplit(" ", 1)[1]
        server = SharedServer(process, base_url, cwd, env)
        server.accounts["admin"] = first_admin(browser, server, setup_url)
        _load_demo(server)  # the demo refuses a database with other accounts than the admin
        for username, role in (("lotte", "security_officer"), ("fatima", "staff")):
            account = enrol(browser, server, username, role)
            context = browser.new_context(locale="nl-NL")
            sign_in(context.new_page(), server, account)
            account.storage_state = cwd / f"{username}.json"
            context.storage_state(path=str(account.storage_state))
            context.close()
            server.accounts[role] = account
        yield server
        assert process.stop() == 0


# --- watched pages ---------------------------------------------------------------------------


class PageWatch:
    """Console errors, uncaught exceptions and CSP violations of every watched page."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def attach(self, context: BrowserContext) -> None:
        context.add_init_script(CSP_REPORTER)
        context.on("page", self._watch)

    def _watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: {error}"))
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        # A refused form answers 4xx by design and Chromium logs each such load: statuses
        # are judged in _response instead.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"{message.page.url if message.page else '?'}: {message.text}")

    def _response(self, response: Response) -> None:
        """A page's own status may be a deliberate 4xx; a missing script, style or fragment is
        a fault, and so is any 5xx."""
        is_page = response.request.resource_type == "document"
        if response.status >= 500 or (response.status >= 400 and not is_page):
            self.problems.append(f"{response.request.method} {response.url}: {response.status}")


OpenPage = Callable[..., Page]


@pytest.fixture
def open_page(browser: Browser, shared_server: SharedServer) -> Iterator[OpenPage]:
    """``open_page(role, **context options)``: a watched page signed in as ``role`` (or
    signed out with ``role=None``) on the shared server; Dutch and 1280 by 900 unless told."""
    watch = PageWatch()
    contexts: list[BrowserContext] = []

    def opened(role: str | None = "security_officer", **options: Any) -> Page:
        settings: dict[str, Any] = {"locale": "nl-NL", **DESKTOP, **options}
        if role is not None:
            settings["storage_state"] = str(shared_server.accounts[role].storage_state)
        context = browser.new_context(**settings)
        context.set_default_timeout(10_000)  # fail in seconds, not in Playwright's 30
        watch.attach(context)
        contexts.append(context)
        return context.new_page()

    yield opened
    for context in contexts:
        context.close()
    assert not watch.problems, "console errors or CSP violations:\n" + "\n".join(watch.problems)


def screenshot(page: Page, name: str) -> None:
    """A full-page PNG in tests/browser/screenshots/ (git-ignored), rewritten on each run."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
