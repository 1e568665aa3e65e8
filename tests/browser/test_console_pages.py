"""Every main page of the console, with the demo sample loaded: it loads without a console
error or CSP violation (the ``open_page`` watch), a full-page screenshot is written to
tests/browser/screenshots/, and axe-core finds no serious or critical accessibility violation.

axe-playwright-python injects axe-core with ``page.evaluate`` (the DevTools protocol), which the
page's strict CSP does not govern, so the pages are scanned exactly as served.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from tests.browser.conftest import PageWatch, screenshot

BLOCKING = ("serious", "critical")


@dataclass(frozen=True)
class MainPage:
    name: str
    path: str
    # a page reached through the first link of a list (an alert, an incident, a rule…)
    first_link: str | None = None
    role: str = "security_officer"

    def __str__(self) -> str:
        return self.name


ROWS = "main table tbody tr a"
PAGES = [
    MainPage("dashboard", "/dashboard"),
    MainPage("alert-queue", "/alerts"),
    MainPage("alert", "/alerts", first_link=ROWS),
    MainPage("incidents", "/incidents"),
    MainPage("incident", "/incidents", first_link=ROWS),
    MainPage("events", "/events"),
    MainPage("rules", "/rules"),
    MainPage("rule", "/rules", first_link=ROWS),
    MainPage("rule-import", "/rules/import"),
    MainPage("detection-lists", "/detection-lists"),
    MainPage("detection-list", "/detection-lists", first_link=ROWS),
    MainPage("deadlines", "/deadlines"),
    MainPage("playbooks", "/playbooks"),
    MainPage("playbook", "/playbooks", first_link=ROWS),
    MainPage("staff-safety-cases", "/staff-safety"),
    MainPage("staff-safety-case", "/staff-safety", first_link=ROWS),
    MainPage("statistics", "/staff-safety/statistics"),
    MainPage("report-form", "/reports/new", role="staff"),
    MainPage("my-reports", "/reports/mine", role="staff"),
    MainPage("sign-in", "/login", role=None),  # type: ignore[arg-type]
]


def serious_violations(page: Page) -> list[str]:
    """One line per serious or critical axe-core violation: rule, impact, selectors."""
    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        for violation in results.response["violations"]
        if violation["impact"] in BLOCKING
    ]


def visit(page: Page, base_url: str, main_page: MainPage) -> None:
    response = page.goto(base_url + main_page.path)
    assert response is not None
    assert response.ok, f"{main_page.path}: {response.status}"
    if main_page.first_link is not None:
        link = page.locator(main_page.first_link).first
        assert link.count() == 1, f"nothing listed on {main_page.path} (is the demo sample loaded?)"
        link.click()
        page.wait_for_load_state()


@pytest.mark.parametrize("main_page", PAGES, ids=str)
def test_main_page_loads_cleanly_and_has_no_serious_accessibility_violations(
    shared_server, open_page, main_page
):
    page = open_page(main_page.role)
    visit(page, shared_server.base_url, main_page)
    assert page.get_attribute("html", "lang") == "nl"
    screenshot(page, main_page.name)
    violations = serious_violations(page)
    assert not violations, f"{main_page.name} ({page.url}):\n" + "\n".join(violations)


INJECT = """() => {
  const script = document.createElement("script");
  script.textContent = "window.injected = true";
  document.body.appendChild(script);
  document.body.insertAdjacentHTML("beforeend", '<p style="color: red">injected</p>');
}"""


def test_the_page_watch_catches_an_inline_script_and_a_style_attribute(browser, shared_server):
    """The guard the tests above rely on: what the CSP refuses is reported, not silent."""
    watch = PageWatch()
    context = browser.new_context()
    watch.attach(context)
    page = context.new_page()
    page.goto(shared_server.url("/login"))
    with page.expect_console_message(lambda message: "CSP violation: style-src" in message.text):
        page.evaluate(INJECT)
    context.close()
    reported = "\n".join(watch.problems)
    assert "CSP violation: script-src-elem" in reported
    assert "CSP violation: style-src-attr" in reported
