"""The console speaks Dutch first: a browser that prefers neither Dutch nor English gets Dutch;
the language switch keeps the page, changes ``lang`` and the visible texts, and holds on the
next pages until switched back."""

from __future__ import annotations

from playwright.sync_api import Page, expect


def heading_and_menu(page: Page) -> tuple[str, str]:
    return page.locator("h1").inner_text(), page.locator("nav.nav a[href='/alerts']").inner_text()


def test_dutch_by_default_then_english_and_back(shared_server, open_page):
    page = open_page(locale="de-DE")  # neither of ours: Dutch
    page.goto(shared_server.url("/alerts"))
    assert page.get_attribute("html", "lang") == "nl"
    assert heading_and_menu(page) == ("Meldingen", "Meldingen")
    assert page.title() == "Meldingen · Wachter"

    page.locator(".language-switch button[lang=en]").click()
    page.wait_for_url("**/alerts")  # the same page, now in English
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert heading_and_menu(page) == ("Alerts", "Alerts")
    page.goto(shared_server.url("/incidents"))
    assert page.get_attribute("html", "lang") == "en"
    assert page.locator("nav.nav a[href='/incidents']").inner_text() == "Incidents"

    page.locator(".language-switch button[lang=nl]").click()
    page.wait_for_url("**/incidents")
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    assert page.locator("nav.nav a[href='/incidents']").inner_text() == "Incidenten"
    assert page.locator(".language-switch button").inner_text() == "English"
