"""Rendered pages obey the CSP by construction and the login form is accessible.

The CSP (``script-src 'self'``, ``style-src 'self'``) would block inline scripts, event
handlers and style attributes; these tests keep the templates from needing them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import NamedTuple

import orjson
import pytest
from flask import Flask
from flask.testing import FlaskClient

from core import Conflict
from web.policy import POLICY, PUBLIC

BROWSER_ACCEPT = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
URL_ATTRIBUTES = {"src", "href", "action", "formaction", "srcset", "poster", "data", "xlink:href"}


@dataclass
class Element:
    tag: str
    attributes: dict[str, str]
    form: int | None  # the index of the <form> it sits in


class Page(HTMLParser):
    """Every start tag with its attributes, and the form each one sits in."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.forms: list[Element] = []
        self._form: int | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._form = len(self.forms)
        element = Element(tag, attributes, self._form)
        if tag == "form":
            self.forms.append(element)
        self.elements.append(element)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None

    def tagged(self, tag: str) -> list[Element]:
        return [element for element in self.elements if element.tag == tag]

    def contents_of(self, form: Element) -> list[Element]:
        index = self.forms.index(form)
        return [e for e in self.elements if e.form == index and e.tag != "form"]


class Request(NamedTuple):
    method: str
    path: str
    headers: dict[str, str]
    status: int


PAGES = {
    "login (nl)": Request("GET", "/login", {}, 200),
    "login (en)": Request("GET", "/login", {"Accept-Language": "en"}, 200),
    "not found": Request("GET", "/no-such-page", {}, 404),
    "method not allowed": Request("GET", "/language", {}, 405),
    "bad request": Request("POST", "/language", {}, 400),
    "domain error with message": Request("GET", "/test/conflict", {}, 409),
    "server error": Request("GET", "/test/boom", {}, 500),
}


def _boom() -> str:
    raise RuntimeError("boom")


def _conflict() -> str:
    raise Conflict("This incident is already closed")


@pytest.fixture
def app(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The usual app plus routes whose error pages we want to inspect too."""
    for endpoint in ["test_boom", "test_conflict"]:
        monkeypatch.setitem(POLICY, (endpoint, "GET"), PUBLIC)
    app.add_url_rule("/test/boom", "test_boom", _boom)
    app.add_url_rule("/test/conflict", "test_conflict", _conflict)
    return app


@pytest.fixture(params=PAGES)
def page(request: pytest.FixtureRequest, client: FlaskClient) -> Page:
    method, path, headers, status = PAGES[request.param]
    response = client.open(path, method=method, headers={**BROWSER_ACCEPT, **headers})
    assert response.status_code == status
    assert response.mimetype == "text/html"
    return Page(response.get_data(as_text=True))


def inline_scripts(page: Page) -> list[Element]:
    return [element for element in page.tagged("script") if not element.attributes.get("src")]


def event_handlers(page: Page) -> list[str]:
    """Inline handlers, and htmx attributes that would run code (``hx-on``, ``js:`` values)."""
    return [
        f"<{element.tag} {name}>"
        for element in page.elements
        for name, value in element.attributes.items()
        if re.fullmatch(r"on\w+", name)
        or re.match(r"(data-)?hx-on", name)
        or (re.match(r"(data-)?hx-", name) and re.match(r"\s*(js|javascript):", value, re.I))
    ]


def style_attributes(page: Page) -> list[str]:
    return [element.tag for element in page.elements if "style" in element.attributes]


def url_references(page: Page) -> list[str]:
    return [
        value
        for element in page.elements
        for name, value in element.attributes.items()
        if name in URL_ATTRIBUTES
    ]


def off_site_references(page: Page) -> list[str]:
    """Anything with a scheme (http:, https:, javascript:, data:) or a "//" host part."""
    return [
        value
        for value in url_references(page)
        if "//" in value or re.match(r"\s*[a-z][a-z0-9+.-]*:", value, re.IGNORECASE)
    ]


def test_the_checks_find_what_the_csp_would_block() -> None:
    page = Page(
        '<script>alert(1)</script><script src="/static/app.js"></script><style>p{}</style>'
        '<a href="//evil.example" onclick="x()">a</a><img src="https://cdn.example/x.png">'
        '<p style="color:red"><a href="javascript:alert(1)">b</a><a href="/ok">c</a>'
    )

    assert [element.attributes for element in inline_scripts(page)] == [{}]
    assert len(page.tagged("style")) == 1
    assert event_handlers(page) == ["<a onclick>"]
    htmx = Page('<button hx-on:click="x()" hx-vals="js:{a: b()}" hx-get="/ok">b</button>')
    assert event_handlers(htmx) == ["<button hx-on:click>", "<button hx-vals>"]
    assert style_attributes(page) == ["p"]
    assert off_site_references(page) == [
        "//evil.example",
        "https://cdn.example/x.png",
        "javascript:alert(1)",
    ]


def test_pages_have_no_inline_scripts(page: Page) -> None:
    assert inline_scripts(page) == []


def test_pages_have_no_inline_style_blocks(page: Page) -> None:
    assert page.tagged("style") == []


def test_pages_have_no_inline_event_handlers(page: Page) -> None:
    assert event_handlers(page) == []


def test_htmx_may_not_evaluate_code_or_keep_pages_in_local_storage(page: Page) -> None:
    [meta] = [e for e in page.tagged("meta") if e.attributes.get("name") == "htmx-config"]
    config = orjson.loads(meta.attributes["content"])
    assert config["allowEval"] is False
    assert config["allowScriptTags"] is False
    assert config["historyCacheSize"] == 0


def test_pages_have_no_style_attributes(page: Page) -> None:
    assert style_attributes(page) == []


def test_pages_reference_nothing_outside_the_site(page: Page) -> None:
    assert url_references(page), "expected at least the stylesheet link"
    assert off_site_references(page) == []


def is_csrf_field(element: Element) -> bool:
    attributes = element.attributes
    return (
        element.tag == "input"
        and attributes.get("type") == "hidden"
        and attributes.get("name") == "csrf_token"
        and bool(attributes.get("value"))
    )


def test_every_post_form_carries_a_csrf_token(page: Page) -> None:
    post_forms = [f for f in page.forms if f.attributes.get("method", "get").lower() == "post"]
    assert post_forms, "every page has at least the language switch"

    for form in post_forms:
        assert any(is_csrf_field(e) for e in page.contents_of(form)), form.attributes


@dataclass
class LoginForm:
    form: Element
    fields: list[Element]


@pytest.fixture
def login_form(client: FlaskClient) -> LoginForm:
    page = Page(client.get("/login", headers=BROWSER_ACCEPT).get_data(as_text=True))
    [form] = [f for f in page.forms if f.attributes.get("action") == "/login"]
    return LoginForm(form, page.contents_of(form))


def visible_inputs(login_form: LoginForm) -> list[Element]:
    return [
        e for e in login_form.fields if e.tag == "input" and e.attributes.get("type") != "hidden"
    ]


def test_login_form_posts(login_form: LoginForm) -> None:
    assert login_form.form.attributes.get("method", "").lower() == "post"


def test_login_form_has_a_label_for_every_input(login_form: LoginForm) -> None:
    labelled = {e.attributes.get("for") for e in login_form.fields if e.tag == "label"}
    inputs = visible_inputs(login_form)

    assert {e.attributes.get("name") for e in inputs} == {"username", "password"}
    for element in inputs:
        assert element.attributes.get("id"), f"input {element.attributes} has no id"
        assert element.attributes["id"] in labelled


def test_login_form_tells_password_managers_what_each_input_is(
    login_form: LoginForm,
) -> None:
    autocomplete = {
        e.attributes["name"]: e.attributes.get("autocomplete") for e in visible_inputs(login_form)
    }

    assert autocomplete == {"username": "username", "password": "current-password"}


def test_login_form_has_a_csrf_field(login_form: LoginForm) -> None:
    assert [e.attributes["name"] for e in login_form.fields if is_csrf_field(e)] == ["csrf_token"]
