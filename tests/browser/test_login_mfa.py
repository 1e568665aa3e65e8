"""Signing in with MFA in a real browser: a wrong code is refused with a clear message and
nothing is signed in; the right code lands on the dashboard."""

from __future__ import annotations

import time

import pyotp

from tests.browser.conftest import PASSWORD


def wrong_code(secret: str) -> str:
    """Six digits the server's ±1-step window does not accept right now."""
    totp, now = pyotp.TOTP(secret), time.time()
    valid = {totp.at(now + offset) for offset in (-30, 0, 30, 60)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in valid)


def test_a_wrong_code_is_refused_and_the_right_one_opens_the_dashboard(shared_server, open_page):
    # The administrator: enrolled through the setup link and not signed in since, so a code
    # for the current time step is still unused (the officer's next one may be a step ahead).
    account = shared_server.accounts["admin"]
    page = open_page(role=None)
    page.goto(shared_server.url("/dashboard"))
    assert page.url.endswith("/login?next=/dashboard")
    page.fill("#username", account.username.upper())  # case-insensitive
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    assert page.url.endswith("/login/code")

    page.fill("#code", wrong_code(account.secret))
    page.click("button.primary")
    refused = page.locator("[role=alert]").inner_text()
    assert refused == "Die code is niet geldig. Probeer de volgende."
    assert page.url.endswith("/login/code")
    assert page.goto(shared_server.url("/alerts")).url.endswith("/login/code")  # not signed in

    page.goto(shared_server.url("/login/code"))
    page.fill("#code", account.next_code())
    page.click("button.primary")
    assert page.url.endswith("/dashboard")
    assert page.get_attribute("html", "lang") == "nl"
    assert page.locator("nav.nav a[aria-current=page]").inner_text() == "Dashboard"
