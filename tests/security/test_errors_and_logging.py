"""SECURITY_CASES §5.9: errors fail closed and say nothing, the audit trail, config (#65-#68).

Every test of this suite also checks its logs and audit rows for its secrets (conftest.py);
the first tests here show that check catches what it should.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import sys
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from access_control import audit
from core import ConfigError, Settings
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.security.conftest import find_leaks
from tests.security.helpers import (
    STEP,
    account,
    audit_entries,
    code,
    get_user,
    is_anonymous,
    pending_mfa,
    sign_in,
)
from tests.support.accounts import post_form, submit_code, submit_password
from web import create_app
from web.policy import POLICY, PUBLIC

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
SQL = "UPDATE user_account SET totp_last_step=? WHERE user_account.id = ?"


# 66: the leak check itself ----------------------------------------------------------------------


def _record(message, *args, exc_info=None, **extra):
    record = logging.LogRecord("wachter.test", logging.INFO, __file__, 1, message, args, exc_info)
    record.__dict__.update(extra)
    return record


def test_the_leak_check_finds_a_secret_wherever_a_record_carries_it():
    secret = "hunter2-correct-horse"
    try:
        raise RuntimeError(f"boom {secret}")
    except RuntimeError:
        exc_info = sys.exc_info()
    records = [
        _record(f"password was {secret}"),
        _record("password was %s", secret),
        _record("login", **{"user.password": secret}),
        _record("failed", exc_info=exc_info),
        _record("nothing to see"),
    ]
    leaks = find_leaks(records, [secret])
    assert [leak.split(":")[1].strip() for leak in leaks] == [
        "message",
        "msg",
        "message",
        "args[0]",
        "extra 'user.password'",
        "traceback",
    ]


def test_the_leak_check_ignores_six_digits_inside_a_longer_number_or_an_id():
    assert find_leaks([_record("took 91234567 ns")], ["123456"]) == []
    assert find_leaks([_record("request", **{"http.request.id": "9fa123456b0c"})], ["123456"]) == []
    assert find_leaks([_record("code 123456 accepted")], ["123456"]) != []


# 65: forced errors --------------------------------------------------------------------------------


@pytest.fixture
def failing_app(app, monkeypatch):
    """The app plus a public route whose database call fails (registered for this test)."""
    monkeypatch.setitem(POLICY, ("database_down", "GET"), PUBLIC)

    def database_down():
        raise OperationalError(
            SQL, (4242, 7), Exception("server closed the connection unexpectedly")
        )

    app.add_url_rule("/test/database-down", "database_down", database_down)
    return app


@pytest.mark.parametrize("accept", ["html", "json"])
def test_a_database_error_is_a_generic_500_with_a_request_id(failing_app, caplog, accept):
    client = failing_app.test_client()
    headers = BROWSER if accept == "html" else {"Accept": "application/json"}
    response = client.get("/test/database-down", headers=headers)
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    request_id = response.headers["X-Request-ID"]
    assert request_id in body
    if accept == "json":
        assert response.get_json()["error"] == {
            "status": 500,
            "code": "internal_error",
            "message": response.get_json()["error"]["message"],
            "request_id": request_id,
        }
    for leak in (
        "UPDATE",
        "user_account",
        "totp_last_step",
        "4242",
        "OperationalError",
        "Traceback",
        "server closed",
    ):
        assert leak not in body, leak
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert getattr(errors[0], "http.request.id") == request_id


@contextmanager
def database_fails_on(rollback_database, pattern):
    """Make every statement matching ``pattern`` fail as if the database went away."""
    connection = rollback_database.sessions.kw["bind"]

    def fail(_connection, _cursor, statement, parameters, _context, _many):
        if re.search(pattern, statement, re.IGNORECASE):
            raise OperationalError(statement, parameters, Exception("connection lost"))

    event.listen(connection, "before_cursor_execute", fail)
    try:
        yield
    finally:
        event.remove(connection, "before_cursor_execute", fail)


def test_a_storage_error_while_checking_the_code_denies_the_login(
    app, client, clock, rollback_database, secrets
):
    officer = account(app, secrets, role="security_officer", username="olga")
    pending_mfa(client, officer)
    clock.advance(STEP)
    value = code(officer, clock, secrets)
    with database_fails_on(rollback_database, r"^UPDATE user_account SET totp_last_step"):
        response = submit_code(client, value, headers=BROWSER)
    assert response.status_code == 500
    assert "totp_last_step" not in response.get_data(as_text=True)
    assert client.get("/account").headers["Location"] == "/login/code"  # not signed in
    assert audit_entries(rollback_database, "auth.login.success") == []
    assert get_user(rollback_database, officer.user_id).totp_last_step == 0  # nothing kept
    assert submit_code(client, value).status_code == 303  # the database is back


def test_a_storage_error_while_loading_the_session_denies_access(
    app, client, clock, rollback_database, secrets
):
    officer = account(app, secrets, role="security_officer")
    sign_in(client, officer, clock, secrets)
    with database_fails_on(rollback_database, r"FROM auth_session"):
        for path in ("/dashboard", "/account"):
            response = client.get(path, headers=BROWSER)
            assert response.status_code == 500, path
            assert "Dashboard" not in response.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 200


def test_a_storage_error_in_the_password_step_starts_no_session(
    app, client, rollback_database, secrets
):
    officer = account(app, secrets, role="security_officer")
    with database_fails_on(rollback_database, r"INSERT INTO auth_session"):
        response = submit_password(client, officer, headers=BROWSER)
    assert response.status_code == 500
    assert is_anonymous(client)
    assert audit_entries(rollback_database, "auth.password.success") == []


@pytest.mark.parametrize(
    ("method", "path", "options"),
    [
        ("GET", "/enrol/" + "x" * 5000, {}),
        ("GET", "/setup/%ff%fe%00", {}),
        ("GET", "/login?next=%ff%fe%00", {}),
        ("GET", "/login/code", {"headers": {"Cookie": "__Host-session=\udcff\x00garbage"}}),
        (
            "POST",
            "/login",
            {
                "data": b"username=%ff%fe&password=%00",
                "content_type": "application/x-www-form-urlencoded",
            },
        ),
        ("POST", "/login", {"data": b"--x\r\n", "content_type": "multipart/form-data; boundary=x"}),
        ("POST", "/login", {"data": b"{", "content_type": "application/json"}),
    ],
)
def test_odd_input_never_causes_a_500(client, method, path, options):
    response = client.open(path, method=method, **options)
    assert response.status_code < 500, response.status_code


# 66: a full session leaves exactly the expected trail ---------------------------------------------


def test_a_session_leaves_exactly_the_expected_audit_trail_and_it_verifies(
    app, client, clock, rollback_database, secrets
):
    officer = account(app, secrets, role="staff", username="sam")
    start = clock.now()
    post_form(client, "/login", "/login", {"username": "sam", "password": "verkeerd verkeerd"})
    sign_in(client, officer, clock, secrets)
    client.get("/dashboard")  # staff: denied
    client.post("/account/logout-everywhere")  # no CSRF token
    post_form(client, "/account", "/logout", {})
    entries = audit_entries(rollback_database)
    assert [(entry.action, entry.actor, entry.outcome) for entry in entries[-6:]] == [
        ("auth.password.failure", "anonymous", "failure"),
        ("auth.password.success", "anonymous", "success"),
        ("auth.login.success", "sam", "success"),
        ("authz.denied", "sam", "denied"),
        ("csrf.rejected", "sam", "denied"),
        ("auth.logout", "sam", "success"),
    ]
    for entry in entries[-6:]:
        assert entry.ip == "127.0.0.1"
        assert entry.occurred_at.utcoffset() == timedelta(0)
        assert start <= entry.occurred_at <= clock.now()
        assert entry.request_id is not None
        assert re.fullmatch(r"[0-9a-f]{16}", entry.request_id)
    assert len({entry.request_id for entry in entries[-6:]}) == 6
    with rollback_database.unit_of_work() as session:
        report = audit.verify_chain(session)
    assert report.is_intact, report.problem


# 67: nothing can change the trail through the web -------------------------------------------------


def test_no_route_can_change_or_delete_audit_entries(app):
    for rule in app.url_map.iter_rules():
        methods = rule.methods - {"HEAD", "OPTIONS"}
        assert not methods & {"PUT", "PATCH", "DELETE"}, rule.rule
        if "audit" in rule.endpoint or "audit" in rule.rule:
            assert methods == {"GET"}, rule.rule


# 68: configuration --------------------------------------------------------------------------------


def test_debug_is_off_and_the_secret_key_comes_from_the_settings(app, settings):
    assert app.debug is False
    assert app.config["DEBUG"] is False
    assert app.testing is False
    assert app.config["PROPAGATE_EXCEPTIONS"] is not True
    assert app.config["SECRET_KEY"] == settings.secret_key
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_the_secret_key_is_read_from_the_environment(tmp_path):
    key = "k" * 48
    settings = Settings.from_env(
        {
            "WACHTER_DATA_DIR": str(tmp_path),
            "WACHTER_SECRET_KEY": key,
            "WACHTER_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
        }
    )
    assert settings.secret_key == key
    with pytest.raises(ConfigError, match="WACHTER_SECRET_KEY"):
        Settings.from_env({"WACHTER_DATA_DIR": str(tmp_path), "WACHTER_SECRET_KEY": "short"})


def test_there_is_no_app_without_a_secret_key(settings, rollback_database):
    with pytest.raises(ConfigError, match="WACHTER_SECRET_KEY"):
        create_app(dataclasses.replace(settings, secret_key=None), database=rollback_database)


@pytest.mark.parametrize(
    "path",
    [
        "/.git/config",
        "/.git/HEAD",
        "/.env",
        "/static/..%2fapp.py",
        "/static/..%2f..%2fpyproject.toml",
        "/static/%2e%2e/%2e%2e/pyproject.toml",
        "/static/../../pyproject.toml",
        "/static/..%5c..%5cpyproject.toml",
        "/static/css/..%2f..%2f..%2fweb%2fapp.py",
        "/app.py",
        "/web/app.py",
    ],
)
def test_source_files_and_traversal_paths_are_not_found(client, path):
    response = client.get(path)
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    for leak in ("create_app", "[tool.", "repositoryformatversion", "def "):
        assert leak not in body
