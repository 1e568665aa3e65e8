"""The one error handler: status codes, JSON or page, request ids, no leaks, rollback."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from storage import Database, JobLease
from web.app import MAX_REQUEST_BYTES
from web.context import db_session
from web.policy import POLICY, PUBLIC

BROWSER_ACCEPT = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
LEAKY_DETAIL = "password=hunter2 host=db.internal SELECT * FROM user"
DOMAIN_ERRORS: dict[str, type[DomainError]] = {
    "not-found": NotFound,
    "permission-denied": PermissionDenied,
    "conflict": Conflict,
    "invalid-input": InvalidInput,
}


class RuleNotFound(NotFound):
    """A domain's own subclass, as ``<domain>/errors.py`` would declare it."""


def _write_lease(name: str) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    session = db_session()
    session.add(
        JobLease(name=name, holder="web-test", acquired_at=now, expires_at=now + timedelta(1))
    )
    session.flush()  # the INSERT reaches the database before anything fails


def _fail(kind: str) -> str:
    if kind == "unexpected":
        raise RuntimeError(LEAKY_DETAIL)
    if kind == "rule-not-found":
        raise RuleNotFound("Rule 12 does not exist")
    raise DOMAIN_ERRORS[kind](f"{kind} message for the user")


@pytest.fixture
def app(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The usual app plus routes that fail on purpose, registered before the first request
    and listed as public in the policy table for this test only."""
    for endpoint in ("test_fail", "test_api_fail", "test_write_then_fail", "test_write"):
        monkeypatch.setitem(POLICY, (endpoint, "GET"), PUBLIC)

    def fail(kind: str) -> str:
        return _fail(kind)

    def write_then_fail(kind: str) -> str:
        _write_lease(f"failed-{kind}")
        return _fail(kind)

    def write() -> str:
        _write_lease("succeeded")
        return "written"

    app.add_url_rule("/test/fail/<kind>", "test_fail", fail)
    app.add_url_rule("/api/test/fail/<kind>", "test_api_fail", fail)
    app.add_url_rule("/test/write-then-fail/<kind>", "test_write_then_fail", write_then_fail)
    app.add_url_rule("/test/write", "test_write", write)
    return app


def request_id_on_page(html: str) -> str:
    match = re.search(r"<code>([^<]+)</code>", html)
    assert match, "the error page shows no reference"
    return match.group(1)


def test_unknown_console_path_is_a_dutch_html_page_by_default(client: FlaskClient) -> None:
    response = client.get("/no-such-page", headers=BROWSER_ACCEPT)

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<html lang="nl">' in html
    assert "Pagina niet gevonden" in html


def test_unknown_console_path_without_an_accept_header_is_an_html_page(
    client: FlaskClient,
) -> None:
    response = client.get("/no-such-page")

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Pagina niet gevonden" in response.get_data(as_text=True)


def test_error_page_follows_the_browsers_language(client: FlaskClient) -> None:
    response = client.get("/no-such-page", headers={**BROWSER_ACCEPT, "Accept-Language": "en"})

    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_error_page_shows_the_request_id_of_the_response(client: FlaskClient) -> None:
    response = client.get("/no-such-page", headers=BROWSER_ACCEPT)

    assert request_id_on_page(response.get_data(as_text=True)) == response.headers["X-Request-ID"]


def test_not_found_page_does_not_reflect_markup_from_the_path(client: FlaskClient) -> None:
    response = client.get("/<script>alert(1)</script>", headers=BROWSER_ACCEPT)

    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "<script>" not in html.lower()  # the page's own scripts all have a src
    assert "alert(1)" not in html  # not even escaped: the path is never echoed


def test_api_not_found_is_json_and_does_not_reflect_the_path(client: FlaskClient) -> None:
    response = client.get("/api/<script>alert(1)</script>", headers=BROWSER_ACCEPT)

    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert "<script" not in response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert set(error) == {"status", "code", "message", "request_id"}
    assert error["status"] == 404
    assert error["code"] == "not_found"
    assert error["message"]
    assert error["request_id"] == response.headers["X-Request-ID"]


def test_console_path_gives_json_to_a_client_that_asks_for_json(client: FlaskClient) -> None:
    response = client.get("/no-such-page", headers={"Accept": "application/json"})

    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == "not_found"


def test_posting_to_a_probe_is_method_not_allowed_with_an_allow_header(
    client: FlaskClient,
) -> None:
    response = client.post("/healthz")

    assert response.status_code == 405
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert "GET" in {method.strip() for method in response.headers["Allow"].split(",")}


def test_trace_is_method_not_allowed(client: FlaskClient) -> None:
    response = client.open("/login", method="TRACE", headers=BROWSER_ACCEPT)

    assert response.status_code == 405
    allowed = {method.strip() for method in response.headers["Allow"].split(",")}
    assert "TRACE" not in allowed
    assert "GET" in allowed


def test_unexpected_error_is_a_generic_page_with_a_request_id(client: FlaskClient) -> None:
    response = client.get("/test/fail/unexpected", headers=BROWSER_ACCEPT)

    assert response.status_code == 500
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "Er ging bij ons iets mis" in html
    assert request_id_on_page(html) == response.headers["X-Request-ID"]
    for leak in ("Traceback", "RuntimeError", "hunter2", "db.internal", "SELECT"):
        assert leak not in html


def test_unexpected_api_error_is_generic_json(client: FlaskClient) -> None:
    response = client.get("/api/test/fail/unexpected")

    assert response.status_code == 500
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == "internal_error"
    assert error["request_id"] == response.headers["X-Request-ID"]
    body = response.get_data(as_text=True)
    for leak in ("Traceback", "RuntimeError", "hunter2", "db.internal", "SELECT"):
        assert leak not in body


def test_unexpected_error_is_logged_with_its_request_id(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="wachter.web"):
        response = client.get("/test/fail/unexpected", headers=BROWSER_ACCEPT)

    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1
    record = errors[0]
    assert getattr(record, "http.request.id") == response.headers["X-Request-ID"]
    assert record.exc_info is not None
    assert record.exc_info[0] is RuntimeError
    assert str(record.exc_info[1]) == LEAKY_DETAIL


def test_expected_client_errors_are_not_logged_as_errors(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="wachter.web"):
        client.get("/test/fail/conflict", headers=BROWSER_ACCEPT)
        client.get("/no-such-page", headers=BROWSER_ACCEPT)

    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []


@pytest.mark.parametrize(
    ("kind", "status"),
    [("not-found", 404), ("permission-denied", 403), ("conflict", 409), ("invalid-input", 400)],
)
def test_domain_errors_map_to_their_status_with_their_message_on_the_page(
    client: FlaskClient, kind: str, status: int
) -> None:
    response = client.get(f"/test/fail/{kind}", headers=BROWSER_ACCEPT)

    assert response.status_code == status
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert f"{kind} message for the user" in html
    assert request_id_on_page(html) == response.headers["X-Request-ID"]


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("not-found", 404, "not_found"),
        ("permission-denied", 403, "forbidden"),
        ("conflict", 409, "conflict"),
        ("invalid-input", 400, "bad_request"),
    ],
)
def test_domain_errors_map_to_their_status_with_their_message_in_json(
    client: FlaskClient, kind: str, status: int, code: str
) -> None:
    response = client.get(f"/api/test/fail/{kind}")

    assert response.status_code == status
    assert response.get_json()["error"] == {
        "status": status,
        "code": code,
        "message": f"{kind} message for the user",
        "request_id": response.headers["X-Request-ID"],
    }


def test_a_domains_own_error_subclass_maps_like_its_parent(client: FlaskClient) -> None:
    response = client.get("/api/test/fail/rule-not-found")

    assert response.status_code == 404
    assert response.get_json()["error"]["message"] == "Rule 12 does not exist"


@pytest.mark.parametrize("kind", ["unexpected", "conflict"])
def test_a_failing_request_leaves_no_database_changes(
    client: FlaskClient, rollback_database: Database, kind: str
) -> None:
    response = client.get(f"/test/write-then-fail/{kind}", headers=BROWSER_ACCEPT)

    assert response.status_code >= 400
    with rollback_database.sessions() as session:
        assert session.get(JobLease, f"failed-{kind}") is None


def test_a_successful_request_commits_its_changes(
    client: FlaskClient, rollback_database: Database
) -> None:
    response = client.get("/test/write")

    assert response.status_code == 200
    with rollback_database.sessions() as session:
        lease = session.get(JobLease, "succeeded")
        assert lease is not None
        assert lease.holder == "web-test"


def test_a_body_over_one_mebibyte_is_too_large(client: FlaskClient) -> None:
    assert MAX_REQUEST_BYTES == 1024 * 1024
    response = client.post(
        "/language",
        data=b"x" * (MAX_REQUEST_BYTES + 1),
        content_type="application/octet-stream",
        headers=BROWSER_ACCEPT,
    )

    assert response.status_code == 413
    assert "Het verzoek is te groot" in response.get_data(as_text=True)


def test_a_body_of_exactly_one_mebibyte_is_not_too_large(client: FlaskClient) -> None:
    response = client.post(
        "/language",
        data=b"x" * MAX_REQUEST_BYTES,
        content_type="application/octet-stream",
        headers=BROWSER_ACCEPT,
    )

    assert response.status_code == 400  # rejected for its missing CSRF token, not its size
