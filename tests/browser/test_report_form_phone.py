"""The issue's browser test: a member of staff reports aggression on a phone, in Dutch and in
English, in well under two minutes, and finds the report under "My reports".

A live ``wachter serve``; the staff account is made with ``wachter user add`` and enrolled
through its one-time link in the browser (password, then TOTP), like a new colleague would.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pyotp

from tests.support.processes import clean_env, run_wachter

PASSWORD = "paarse olifanten dansen op het dak"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
SCREENSHOT = Path(__file__).parent / "screenshots" / "report-form-phone.png"
LINK = re.compile(r"/enrol/(\S+)$", re.M)
NUMBER = re.compile(r"MEL-\d{4}-\d{5}")


def staff_account(live_server, tmp_path, page) -> None:
    """``wachter user add`` → the enrolment link → password → TOTP → signed in."""
    env = clean_env(WACHTER_DATA_DIR=str(tmp_path / "var"))
    result = run_wachter("user", "add", "fatima", "--role", "staff", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    page.goto(f"{live_server.base_url}/enrol/{LINK.search(result.stdout).group(1)}")
    page.fill("#password", PASSWORD)
    page.fill("#password_again", PASSWORD)
    page.click("button.primary")
    secret = page.inner_text("#totp-secret").strip()
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("button.primary")
    page.locator("a.button.primary").click()  # the recovery codes are kept


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


def test_a_member_of_staff_reports_on_a_phone_in_dutch_and_english(browser, live_server, tmp_path):
    context = browser.new_context(locale="nl-NL", **PHONE)
    page = context.new_page()
    staff_account(live_server, tmp_path, page)

    started = time.monotonic()
    page.goto(f"{live_server.base_url}/reports/new")
    assert no_horizontal_scroll(page)
    assert page.get_attribute("html", "lang") == "nl"
    assert page.title().startswith("Agressie melden")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    number = fill_and_send(
        page, live_server.base_url, description="Hij schreeuwde en sloeg op de balie."
    )
    assert time.monotonic() - started < 120
    assert NUMBER.fullmatch(number)
    assert "Wat er nu gebeurt" in page.content()
    assert no_horizontal_scroll(page)
    page.goto(f"{live_server.base_url}/reports/mine")
    assert number in page.content()
    assert no_horizontal_scroll(page)

    page.locator(".language-switch button[lang=en]").click()
    started = time.monotonic()
    page.goto(f"{live_server.base_url}/reports/new")
    assert page.get_attribute("html", "lang") == "en"
    assert page.title().startswith("Report aggression")
    assert no_horizontal_scroll(page)
    second = fill_and_send(
        page, live_server.base_url, description="He shouted and hit the counter."
    )
    assert time.monotonic() - started < 120
    assert "What happens next" in page.content()
    page.goto(f"{live_server.base_url}/reports/mine")
    assert number in page.content()
    assert second in page.content()
    assert no_horizontal_scroll(page)
    context.close()
