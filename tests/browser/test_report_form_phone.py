"""The issue's browser test: a member of staff reports aggression on a phone, in Dutch and in
English, in well under two minutes, and finds the report under "My reports".

The shared live server: its member of staff was added by the administrator and enrolled
through the one-time link in the browser (password, then TOTP), like a new colleague would.
"""

from __future__ import annotations

import re
import time

from tests.browser.conftest import screenshot

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
NUMBER = re.compile(r"MEL-\d{4}-\d{5}")


def fill_and_send(page, base_url: str, *, description: str) -> str:
    page.goto(f"{base_url}/reports/new")
    page.fill("#occurred_date", time.strftime("%Y-%m-%d"))
    page.fill("#occurred_time", "00:00")
    page.check("#location-counter")
    page.check("#category-threat_in_person")
    page.fill("#description", description)
    page.check("#injury")
    page.fill("#perpetrator_case_reference", "ZAAK-2026-0042")
    page.fill("#perpetrator_description", "man, about 40, red jacket")
    page.check("#wants_aftercare-yes")
    page.locator("button[value=send]").click()
    page.wait_for_selector("#report-number")
    return page.inner_text("#report-number").strip()


def no_horizontal_scroll(page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= 390"))


def test_a_member_of_staff_reports_on_a_phone_in_dutch_and_english(shared_server, open_page):
    page = open_page("staff", **PHONE)

    started = time.monotonic()
    page.goto(f"{shared_server.base_url}/reports/new")
    assert no_horizontal_scroll(page)
    assert page.get_attribute("html", "lang") == "nl"
    assert page.title().startswith("Agressie melden")
    screenshot(page, "report-form-phone")
    number = fill_and_send(
        page, shared_server.base_url, description="Hij schreeuwde en sloeg op de balie."
    )
    assert time.monotonic() - started < 120
    assert NUMBER.fullmatch(number)
    assert "Wat er nu gebeurt" in page.content()
    assert no_horizontal_scroll(page)
    page.goto(f"{shared_server.base_url}/reports/mine")
    assert number in page.content()
    assert no_horizontal_scroll(page)

    page.locator(".language-switch button[lang=en]").click()
    started = time.monotonic()
    page.goto(f"{shared_server.base_url}/reports/new")
    assert page.get_attribute("html", "lang") == "en"
    assert page.title().startswith("Report aggression")
    assert no_horizontal_scroll(page)
    second = fill_and_send(
        page, shared_server.base_url, description="He shouted and hit the counter."
    )
    assert time.monotonic() - started < 120
    assert "What happens next" in page.content()
    page.goto(f"{shared_server.base_url}/reports/mine")
    assert number in page.content()
    assert second in page.content()
    assert no_horizontal_scroll(page)
