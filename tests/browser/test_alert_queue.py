"""The alert queue with the demo sample, by keyboard: / jumps to the search box, j/k move, x
selects, Enter opens, ? shows the shortcuts; and a security officer escalates a selected alert
into a new incident (j, x, e, Enter) and lands on the incident, which lists the alert."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot

ROWS = "table[data-shortcuts=queue] tbody tr"
REFERENCE = re.compile(r"INC-\d{4}-\d{5}")


def alert_id(page: Page, row: int) -> str:
    return page.locator(ROWS).nth(row).get_attribute("id").removeprefix("alert-")  # type: ignore[union-attr]


def test_the_alert_queue_shortcuts_move_select_and_open(shared_server, open_page):
    page = open_page()
    page.goto(shared_server.url("/alerts"))
    assert page.locator(ROWS).count() >= 2, "the demo sample has open alerts"
    page.keyboard.press("/")
    expect(page.locator("#global-search")).to_be_focused()
    page.evaluate("document.activeElement.blur()")  # keys typed into a field are not taken
    help_box = page.locator("#shortcuts-help")
    page.keyboard.press("?")
    expect(help_box).to_have_attribute("open", "")
    page.keyboard.press("?")
    expect(help_box).not_to_have_attribute("open", "")

    current = page.locator(f"{ROWS}[aria-current=true]")
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert current.get_attribute("id") == f"alert-{alert_id(page, 1)}"
    page.keyboard.press("k")
    first = alert_id(page, 0)
    assert current.get_attribute("id") == f"alert-{first}"
    box = page.locator(f"#select-{first}")
    page.keyboard.press("x")
    expect(box).to_be_checked()
    page.keyboard.press("x")
    expect(box).not_to_be_checked()

    page.keyboard.press("Enter")
    page.wait_for_url(f"**/alerts/{first}")


def test_escalating_a_selected_alert_opens_an_incident_showing_it(shared_server, open_page):
    page = open_page()
    page.goto(shared_server.url("/alerts?status=new"))  # not yet part of an incident
    escalated = alert_id(page, 0)
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("e")  # the action becomes "escalate" and the Apply button has focus
    assert page.input_value("#bulk-action") == "escalate"
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/incidents/\d+$"))
    heading = page.locator("h1").inner_text()
    reference = REFERENCE.match(heading)
    assert reference is not None, heading
    assert reference.group(0) in page.locator(".notice[role=status]").first.inner_text()
    expect(page.locator(f"table.incident-alerts a[href$='/alerts/{escalated}']")).to_have_count(1)
    screenshot(page, "incident-from-alert")

    incident_path = page.url.removeprefix(shared_server.base_url)
    page.goto(shared_server.url(f"/alerts/{escalated}"))  # the alert points at its incident
    expect(page.locator(f"main a[href='{incident_path}']")).to_have_count(1)
