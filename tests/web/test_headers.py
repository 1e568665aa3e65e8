"""Security headers on every kind of response: page, probe, errors and static files."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import NamedTuple

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from core import FixedClock, Settings
from storage import Database
from web import create_app
from web.policy import POLICY, PUBLIC

BROWSER_ACCEPT = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
ONE_YEAR = 365 * 24 * 3600
PRIVATE_REFERRER_POLICIES = {
    "no-referrer",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
}


class Kind(NamedTuple):
    method: str
    path: str
    status: int
    is_html: bool


KINDS = {
    "page": Kind("GET", "/login", 200, is_html=True),
    "json probe": Kind("GET", "/healthz", 200, is_html=False),
    "not found": Kind("GET", "/no-such-page", 404, is_html=True),
    "method not allowed": Kind("POST", "/healthz", 405, is_html=False),
    "server error": Kind("GET", "/test/boom", 500, is_html=True),
    "static file": Kind("GET", "/static/css/wachter.css", 200, is_html=False),
}
DYNAMIC_KINDS = [name for name in KINDS if name != "static file"]


def _boom() -> str:
    raise RuntimeError("boom")


@pytest.fixture
def app(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The usual app plus a route that fails, to see the headers of a 500."""
    for endpoint in ("test_boom",):
        monkeypatch.setitem(POLICY, (endpoint, "GET"), PUBLIC)
    app.add_url_rule("/test/boom", "test_boom", _boom)
    return app


def fetch(client: FlaskClient, kind: str, **options: object) -> TestResponse:
    method, path, status, _ = KINDS[kind]
    response = client.open(path, method=method, headers=BROWSER_ACCEPT, **options)
    response.close()  # static files are streamed from an open file; headers stay readable
    assert response.status_code == status
    return response


def csp_directives(response: TestResponse) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    directives: dict[str, list[str]] = {}
    for directive in policy.split(";"):
        name, *values = directive.split()
        directives[name.lower()] = values
    return directives


@pytest.mark.parametrize("kind", KINDS)
def test_every_response_has_a_strict_content_security_policy(
    client: FlaskClient, kind: str
) -> None:
    response = fetch(client, kind)

    directives = csp_directives(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    policy = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "*" not in policy


@pytest.mark.parametrize("kind", KINDS)
def test_every_response_forbids_sniffing_framing_and_leaky_referrers(
    client: FlaskClient, kind: str
) -> None:
    response = fetch(client, kind)

    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] in PRIVATE_REFERRER_POLICIES


@pytest.mark.parametrize("kind", KINDS)
def test_every_response_carries_a_request_id(client: FlaskClient, kind: str) -> None:
    response = fetch(client, kind)

    assert re.fullmatch(r"[0-9a-f]{16,}", response.headers["X-Request-ID"])


def test_request_ids_are_unique_per_request(client: FlaskClient) -> None:
    ids = [fetch(client, kind).headers["X-Request-ID"] for kind in KINDS for _ in range(5)]

    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("kind", KINDS)
def test_hsts_is_sent_over_https(client: FlaskClient, kind: str) -> None:
    response = fetch(client, kind, base_url="https://localhost")

    hsts = response.headers["Strict-Transport-Security"]
    max_age = re.search(r"max-age=(\d+)", hsts)
    assert max_age
    assert int(max_age.group(1)) >= ONE_YEAR
    assert "includesubdomains" in hsts.lower()


@pytest.mark.parametrize("kind", KINDS)
def test_hsts_is_not_sent_over_plain_http(client: FlaskClient, kind: str) -> None:
    response = fetch(client, kind)

    assert "Strict-Transport-Security" not in response.headers


@pytest.mark.parametrize("kind", DYNAMIC_KINDS)
def test_pages_probes_and_errors_are_never_cached(client: FlaskClient, kind: str) -> None:
    response = fetch(client, kind)

    assert "no-store" in response.headers["Cache-Control"]


def test_static_files_may_be_cached(client: FlaskClient) -> None:
    response = fetch(client, "static file")

    assert "no-store" not in response.headers.get("Cache-Control", "")


@pytest.mark.parametrize("kind", [name for name, kind in KINDS.items() if kind.is_html])
def test_html_is_declared_as_utf8(client: FlaskClient, kind: str) -> None:
    response = fetch(client, kind)

    assert response.headers["Content-Type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize("kind", ["json probe", "method not allowed"])
def test_json_is_declared_as_json(client: FlaskClient, kind: str) -> None:
    response = fetch(client, kind)

    assert response.mimetype == "application/json"


def test_stylesheet_is_served_as_utf8_css(client: FlaskClient) -> None:
    response = fetch(client, "static file")

    assert response.mimetype == "text/css"
    assert response.mimetype_params.get("charset") == "utf-8"


def proxied_client(
    settings: Settings, database: Database, clock: FixedClock, trusted_proxies: int
) -> FlaskClient:
    app = create_app(
        replace(settings, trusted_proxies=trusted_proxies), database=database, clock=clock
    )
    return app.test_client()


def test_forwarded_https_from_a_trusted_proxy_gets_hsts(
    settings: Settings, rollback_database: Database, clock: FixedClock
) -> None:
    client = proxied_client(settings, rollback_database, clock, trusted_proxies=1)

    response = client.get("/login", headers={"X-Forwarded-Proto": "https"})

    assert response.status_code == 200
    assert "Strict-Transport-Security" in response.headers


def test_forwarded_https_is_ignored_without_trusted_proxies(
    settings: Settings, rollback_database: Database, clock: FixedClock
) -> None:
    client = proxied_client(settings, rollback_database, clock, trusted_proxies=0)

    response = client.get("/login", headers={"X-Forwarded-Proto": "https"})

    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers


def test_server_timing_covers_the_request_up_to_its_commit(app: Flask, client: FlaskClient):
    response = client.get("/login")
    assert re.fullmatch(r"app;dur=\d+\.\d, lock;dur=\d+\.\d", response.headers["Server-Timing"])
    # After-request functions run last-registered first: the timing is the last to run.
    assert app.after_request_funcs[None][0].__name__ == "_server_timing"
