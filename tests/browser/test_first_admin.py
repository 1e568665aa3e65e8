"""A newcomer's first minutes, in a real browser: setup → QR enrolment → sign in → sign out;
the setup link works once (one fresh server: the story is about a first run).

After a click the page may still be loading the next document: ``expect`` waits for it
(reading ``page.content()`` at once read an empty page in CI)."""

from __future__ import annotations

import re
import time

import pyotp
from playwright.sync_api import expect

PASSWORD = "paarse olifanten dansen op het dak"


def test_first_admin_sets_up_enrols_signs_in_and_out(browser, live_server):
    context = browser.new_context(locale="nl-NL")
    page = context.new_page()
    page.goto(live_server.setup_url)
    assert page.title() == "Wachter instellen · Wachter"
    page.fill("#username", "Beheerder")
    page.fill("#display_name", "Anna de Vries")
    page.fill("#password", PASSWORD)
    page.fill("#password_again", PASSWORD)
    page.click("button.primary")

    expect(page).to_have_url(re.compile(r".*/login/enrol$"))
    # the link worked once: from here on (even before TOTP is enrolled) it answers 404
    assert browser.new_context().new_page().goto(live_server.setup_url).status == 404
    assert page.locator("img.qr").get_attribute("src").startswith("data:image/svg+xml")
    secret = page.inner_text("#totp-secret").strip()
    assert len(secret) == 32
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("button.primary")

    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.click("text=Ik heb ze bewaard, doorgaan")
    expect(page).to_have_url(re.compile(r".*/dashboard$"))
    expect(page.locator("body")).to_contain_text("Welkom, Anna de Vries.")

    page.click("button:has-text('Uitloggen')")
    expect(page).to_have_url(re.compile(r".*/login$"))
    assert page.goto(f"{live_server.base_url}/dashboard").url.endswith("/login?next=/dashboard")

    page.fill("#username", "BEHEERDER")  # usernames are case-insensitive
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    expect(page).to_have_url(re.compile(r".*/login/code$"))
    # The enrolment used this time step; the next step is within the ±1 window.
    page.fill("#code", pyotp.TOTP(secret).at(time.time() + 30))
    page.click("button.primary")
    expect(page).to_have_url(re.compile(r".*/dashboard$"))

    page.click("button:has-text('Uitloggen')")
    expect(page).to_have_url(re.compile(r".*/login$"))
    context.close()
