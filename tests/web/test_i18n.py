"""Dutch first, English second: negotiation, the language switch, and complete translations."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

import web
from tests.support.csrf import csrf_token_from
from web.i18n import LANGUAGE_COOKIE

WEB_DIR = Path(web.__file__).parent
DUTCH = WEB_DIR / "translations" / "nl" / "LC_MESSAGES"
# Flask-Babel's lazy variants, as `pybabel extract -k _l` would be told.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "lazy_ngettext": (1, 2)}
# Domain packages mark user-facing error text with core.i18n.N_ (`pybabel extract -k N_`).
KEYWORDS["N_"] = None
SOURCE_PACKAGES = (
    "core",
    "storage",
    "access_control",
    "ingest",
    "detection_rules",
    "incidents",
    "staff_safety",
    "web",
    "wachter",
)


def language_cookies(response: TestResponse) -> list[str]:
    return [
        header
        for header in response.headers.getlist("Set-Cookie")
        if header.startswith(f"{LANGUAGE_COOKIE}=")
    ]


def switch_language(client: FlaskClient, *, with_token: bool = True, **form: str) -> TestResponse:
    page = client.get("/login")
    if with_token:
        form = {"csrf_token": csrf_token_from(page.get_data(as_text=True)), **form}
    return client.post("/language", data=form)


def test_pages_are_dutch_by_default(client: FlaskClient) -> None:
    html = client.get("/login").get_data(as_text=True)

    assert '<html lang="nl">' in html
    assert "Inloggen" in html
    assert "Sign in" not in html


@pytest.mark.parametrize("accept_language", ["en", "en-GB,en;q=0.9", "fr-FR,en;q=0.5"])
def test_browser_preferring_english_gets_english(client: FlaskClient, accept_language: str) -> None:
    html = client.get("/login", headers={"Accept-Language": accept_language}).get_data(as_text=True)

    assert '<html lang="en">' in html
    assert "Sign in" in html
    assert "Inloggen" not in html


def test_browser_preferring_an_unsupported_language_gets_dutch(client: FlaskClient) -> None:
    html = client.get("/login", headers={"Accept-Language": "fr"}).get_data(as_text=True)

    assert '<html lang="nl">' in html


def test_language_switch_sets_a_protected_cookie_and_returns_to_the_page(
    client: FlaskClient,
) -> None:
    response = switch_language(client, language="en", next="/login")

    assert response.status_code == 303
    assert response.location == "/login"
    [cookie] = language_cookies(response)
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert cookie.startswith(f"{LANGUAGE_COOKIE}=en;")
    assert {"httponly", "secure", "samesite"} <= attributes
    assert "samesite=lax" in cookie.lower()


def test_after_switching_the_next_page_is_english(client: FlaskClient) -> None:
    switch_language(client, language="en", next="/login")

    html = client.get("/login").get_data(as_text=True)

    assert '<html lang="en">' in html
    assert "Sign in" in html


def test_chosen_language_wins_over_the_browser_preference(client: FlaskClient) -> None:
    switch_language(client, language="nl", next="/login")

    html = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)

    assert '<html lang="nl">' in html


def test_language_switch_without_csrf_token_is_rejected(client: FlaskClient) -> None:
    response = switch_language(client, with_token=False, language="en", next="/login")

    assert response.status_code == 400
    assert language_cookies(response) == []
    assert '<html lang="nl">' in client.get("/login").get_data(as_text=True)


def test_language_switch_with_a_forged_csrf_token_is_rejected(client: FlaskClient) -> None:
    response = switch_language(
        client, with_token=False, csrf_token="forged", language="en", next="/login"
    )

    assert response.status_code == 400
    assert language_cookies(response) == []


@pytest.mark.parametrize("language", ["xx", "", "EN", "en-US"])
def test_language_switch_rejects_unknown_languages(client: FlaskClient, language: str) -> None:
    response = switch_language(client, language=language, next="/login")

    assert response.status_code == 400
    assert language_cookies(response) == []


def test_language_switch_is_post_only(client: FlaskClient) -> None:
    response = client.get("/language?language=en&next=/login")

    assert response.status_code == 405
    assert language_cookies(response) == []


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "/ok\r\nSet-Cookie: x=y",
        "http:/evil.example",
        "",
    ],
)
def test_language_switch_never_redirects_off_site(client: FlaskClient, target: str) -> None:
    response = switch_language(client, language="en", next=target)

    assert response.status_code == 303
    assert response.location == "/"
    assert urlsplit(response.location).netloc == ""
    assert not any(header.startswith("x=") for header in response.headers.getlist("Set-Cookie"))


def test_language_switch_keeps_a_local_target_with_its_query(client: FlaskClient) -> None:
    response = switch_language(client, language="en", next="/login?page=2")

    assert response.location == "/login?page=2"


def extracted_messages() -> list[tuple[str, str | tuple[str, ...], str | None]]:
    with (WEB_DIR / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config, str(WEB_DIR / "babel.cfg"))
    root = WEB_DIR.parent
    return [
        (f"{package}/{filename}:{lineno}", message, context)
        for package in SOURCE_PACKAGES
        for filename, lineno, message, _comments, context in extract_from_dir(
            root / package, method_map, options_map, keywords=KEYWORDS
        )
    ]


def msgid(message: str | tuple[str, ...]) -> str:
    return message[0] if isinstance(message, tuple) else message


def has_text(translation: str | tuple[str, ...]) -> bool:
    """Every form is filled in (plural messages have one string per form)."""
    forms = translation if isinstance(translation, tuple) else (translation,)
    return all(form.strip() for form in forms)


@pytest.fixture(scope="module")
def dutch_catalog() -> Catalog:
    with (DUTCH / "messages.po").open("rb") as po:
        return read_po(po, locale="nl")


def test_extraction_finds_the_messages_of_code_and_templates() -> None:
    found = {msgid(message) for _where, message, _context in extracted_messages()}

    assert {"Page not found", "Sign in"} <= found  # one from Python (_l), one from Jinja


def test_every_message_has_a_finished_dutch_translation(dutch_catalog: Catalog) -> None:
    problems = []
    for where, message, context in extracted_messages():
        entry = dutch_catalog.get(msgid(message), context=context)
        if entry is None:
            problems.append(f"{where}: {msgid(message)!r} is missing from messages.po")
        elif entry.fuzzy:
            problems.append(f"{where}: {msgid(message)!r} is fuzzy")
        elif not has_text(entry.string):
            problems.append(f"{where}: {msgid(message)!r} has no Dutch text")
    assert problems == []


def test_dutch_catalog_has_no_leftover_messages(dutch_catalog: Catalog) -> None:
    in_use = {(msgid(message), context) for _where, message, context in extracted_messages()}
    in_catalog = {(msgid(entry.id), entry.context) for entry in dutch_catalog if entry.id}

    assert dict(dutch_catalog.obsolete) == {}
    assert in_catalog - in_use == set()


def test_compiled_dutch_catalog_matches_the_po_file(dutch_catalog: Catalog) -> None:
    with (DUTCH / "messages.mo").open("rb") as mo:
        compiled = read_mo(mo)

    def translations(catalog: Catalog) -> dict[object, object]:
        # read_mo gives a plural entry's ids and strings as lists, read_po as tuples.
        def same(value: object) -> object:
            return tuple(value) if isinstance(value, list) else value

        return {
            (same(entry.id), entry.context): same(entry.string)
            for entry in catalog
            if entry.id and entry.string and not entry.fuzzy
        }

    assert translations(compiled) == translations(dutch_catalog)
