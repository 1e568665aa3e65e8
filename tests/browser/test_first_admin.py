"""A newcomer's first minutes, in a real browser: setup → QR enrolment → sign in → sign out;
the setup link works once (one fresh server: the story is about a first run)."""

from __future__ import annotations

import time

import pyotp

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

    assert page.url.endswith("/login/enrol")
    # the link worked once: from here on (even before TOTP is enrolled) it answers 404
    assert browser.new_context().new_page().goto(live_server.setup_url).status == 404
    assert page.locator("img.qr").get_attribute("src").startswith("data:image/svg+xml")
    secret = page.inner_text("#totp-secret").strip()
    assert len(secret) == 32
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("button.primary")

    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    page.click("text=Ik heb ze bewaard, doorgaan")
    assert page.url.endswith("/dashboard")
    assert "Welkom, Anna de Vries." in page.content()

    page.click("button:has-text('Uitloggen')")
    assert page.url.endswith("/login")
    assert page.goto(f"{live_server.base_url}/dashboard").url.endswith("/login?next=/dashboard")

    page.fill("#username", "BEHEERDER")  # usernames are case-insensitive
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    assert page.url.endswith("/login/code")
    # The enrolment used this time step; the next step is within the ±1 window.
    page.fill("#code", pyotp.TOTP(secret).at(time.time() + 30))
    page.click("button.primary")
    assert page.url.endswith("/dashboard")

    page.click("button:has-text('Uitloggen')")
    assert page.url.endswith("/login")
    context.close()
