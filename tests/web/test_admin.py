"""The administration pages: accounts and API tokens (the audit viewer: test_audit_viewer.py).

Every test runs on SQLite and PostgreSQL (the ``app`` fixture's database), signs in through
the real login routes and checks the database, not only the page.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from access_control import Permission
from access_control.models import ApiToken, AuditEntry, User
from tests.factories import make_user
from tests.support.accounts import Account, enrolled_user, post_form, sign_in
from tests.support.admin import (
    audit_entries,
    bearer,
    fetch_user,
    issue_token,
    post,
    readonly_value,
    row,
    sessions_of,
    sign_in_admin,
    signed_in_client,
    step_up,
)
from tests.web.test_templates import Page, event_handlers, inline_scripts, style_attributes
from web import create_app
from web.policy import Access, rule_for

ROLES = ["staff", "soc_analyst", "security_officer", "auditor", "admin"]
PAGES = {"/admin/users": {"admin"}, "/admin/tokens": {"admin"}, "/audit": {"admin", "auditor"}}
NEW_PASSWORD = "paarse olifanten dansen op het dak 42"
STEP_UP_EXPIRED = timedelta(minutes=10, seconds=30)  # signing in counts as a fresh step-up


# Fixtures --------------------------------------------------------------------------------


@pytest.fixture
def admin(app: Flask, client: FlaskClient, clock) -> Account:
    return sign_in_admin(app, client, clock)


@pytest.fixture
def colleague(app: Flask) -> Account:
    return enrolled_user(app, role="soc_analyst", username="collega")


# Who may do what --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_only_its_administration_pages(app, client, clock, role):
    sign_in(client, enrolled_user(app, role=role), clock)
    for path, allowed in PAGES.items():
        assert client.get(path).status_code == (200 if role in allowed else 403), path


@pytest.mark.parametrize("role", ROLES)
def test_the_navigation_shows_the_administration_pages_each_role_may_use(app, client, clock, role):
    sign_in(client, enrolled_user(app, role=role), clock)
    nav = re.search(
        r'<nav class="nav".*?</nav>', client.get("/account").get_data(as_text=True), re.S
    )
    assert nav
    for path, allowed in PAGES.items():
        assert (f'href="{path}"' in nav.group(0)) == (role in allowed), path


def state_changing_posts(username: str) -> list[str]:
    return [
        "/admin/users",
        f"/admin/users/{username}/disable",
        f"/admin/users/{username}/enable",
        f"/admin/users/{username}/unlock",
        f"/admin/users/{username}/enrolment-link",
        f"/admin/users/{username}/role",
        f"/admin/users/{username}/reset-mfa",
        "/admin/tokens",
        "/admin/tokens/1/revoke",
    ]


@pytest.mark.parametrize("role", ROLES[:-1])
def test_no_other_role_may_change_accounts_or_tokens(
    app, client, clock, colleague, rollback_database, role
):
    sign_in(client, enrolled_user(app, role=role), clock)
    form = {"username": "indringer", "display_name": "X", "role": "admin", "name": "t"}
    for path in state_changing_posts(colleague.username):
        response = post(client, path, {**form, "scope": "alerts:read", "days": "1"})
        assert response.status_code == 403, path
    stored = fetch_user(rollback_database, colleague.username)
    assert (stored.is_active, stored.role, stored.totp_secret is not None) == (
        True,
        "soc_analyst",
        True,
    )
    with rollback_database.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(ApiToken)) == 0
        assert session.scalars(select(User).where(User.username == "indringer")).all() == []
    assert len(audit_entries(rollback_database, "authz.denied")) == 9


def test_refused_console_requests_are_audited(app, client, clock, rollback_database):
    sign_in(client, enrolled_user(app, role="staff"), clock)
    assert post(client, "/admin/users/x/disable").status_code == 403
    assert client.post("/account/logout-everywhere").status_code == 400  # no CSRF token
    assert [e.target for e in audit_entries(rollback_database, "authz.denied")] == [
        "POST /admin/users/<path:username>/disable"
    ]
    assert len(audit_entries(rollback_database, "csrf.rejected")) == 1


def test_anonymous_visitors_are_sent_to_sign_in(client, colleague):
    for path in PAGES:
        response = client.get(f"{path}?x=1")
        assert response.status_code == 302
        location = urlsplit(response.location)
        assert location.path == "/login"
        assert parse_qs(location.query)["next"] == [f"{path}?x=1"]
    for path in state_changing_posts(colleague.username):
        response = client.post(path)
        assert response.status_code == 302, path
        assert urlsplit(response.location).path == "/login"


def test_every_administration_route_is_in_the_policy_with_the_right_rule(app):
    expected = {
        ("admin.users", "GET"): (Permission.USERS_ADMIN, False),
        ("admin.create_user", "POST"): (Permission.USERS_ADMIN, False),
        ("admin.new_enrolment_link", "POST"): (Permission.USERS_ADMIN, False),
        ("admin.disable_user", "POST"): (Permission.USERS_ADMIN, False),
        ("admin.end_sessions", "POST"): (Permission.USERS_ADMIN, False),
        ("admin.enable_user", "POST"): (Permission.USERS_ADMIN, False),
        ("admin.unlock_user", "POST"): (Permission.USERS_ADMIN, False),
        ("admin.change_role", "POST"): (Permission.USERS_ADMIN, True),
        ("admin.change_email", "POST"): (Permission.USERS_ADMIN, False),
        ("admin.reset_mfa", "POST"): (Permission.USERS_ADMIN, True),
        ("admin.tokens", "GET"): (Permission.TOKENS_ADMIN, False),
        ("admin.create_token", "POST"): (Permission.TOKENS_ADMIN, True),
        ("admin.revoke_token", "POST"): (Permission.TOKENS_ADMIN, False),
        ("audit.entries", "GET"): (Permission.AUDIT_READ, False),
    }
    found = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(("admin.", "audit."))
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert found == set(expected)
    for (endpoint, method), (permission, needs_step_up) in expected.items():
        rule = rule_for(endpoint, method)
        assert rule is not None
        assert (rule.access, rule.permission, rule.step_up) == (
            Access.SIGNED_IN,
            permission,
            needs_step_up,
        )


# Accounts ----------------------------------------------------------------------------------


def test_the_account_list_shows_name_role_and_state(app, client, clock, admin, rollback_database):
    with rollback_database.unit_of_work() as session:
        created = datetime(2025, 6, 7, tzinfo=UTC)
        states = {
            "uit": make_user(session, username="uit", is_active=False, password_hash="x"),
            "vast": make_user(
                session, username="vast", locked_at=clock.now(), password_hash="x", totp_secret=b"x"
            ),
            "nieuw": make_user(session, username="nieuw", role="auditor", created_at=created),
        }
        user_ids = {name: user.id for name, user in states.items()}
    page = client.get("/admin/users").get_data(as_text=True)
    assert "Uitgeschakeld" in row(page, f"user-{user_ids['uit']}")
    assert "Geblokkeerd" in row(page, f"user-{user_ids['vast']}")
    new_row = row(page, f"user-{user_ids['nieuw']}")
    assert "Niet geactiveerd" in new_row
    assert "Auditor" in new_row
    assert "2025-06-07" in new_row
    own_row = row(page, f"user-{admin.user_id}")
    assert "Actief" in own_row
    assert "Beheerder" in own_row
    assert "/disable" not in own_row  # no button to lock oneself out


def test_creating_an_account_shows_a_link_that_works_once(
    app, client, clock, admin, rollback_database, caplog
):
    caplog.set_level(logging.DEBUG)
    response = post(
        client,
        "/admin/users",
        {"username": " Nieuwe.Collega ", "display_name": "Nieuwe Collega", "role": "soc_analyst"},
    )
    assert response.status_code == 201
    page = response.get_data(as_text=True)
    link = readonly_value(page, "enrolment-link")
    assert link.startswith("http://localhost/enrol/")
    token = link.rsplit("/", 1)[1]
    assert len(token) >= 43
    stored = fetch_user(rollback_database, "nieuwe.collega")
    assert (stored.display_name, stored.role, stored.password_hash) == (
        "Nieuwe Collega",
        "soc_analyst",
        None,
    )

    with client.session_transaction() as cookie_session:
        assert token not in json.dumps(dict(cookie_session), default=str)  # never flashed
    listing = client.get("/admin/users").get_data(as_text=True)
    assert token not in listing
    assert "Niet geactiveerd" in row(listing, f"user-{stored.id}")

    newcomer = app.test_client()
    assert newcomer.get(f"/enrol/{token}").status_code == 200
    chosen = post_form(
        newcomer,
        f"/enrol/{token}",
        f"/enrol/{token}",
        {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
    )
    assert chosen.status_code == 303, chosen.get_data(as_text=True)
    assert app.test_client().get(f"/enrol/{token}").status_code == 404

    assert [e.target for e in audit_entries(rollback_database, "user.created")] == [
        "user:nieuwe.collega"
    ]
    for record in caplog.records:
        assert token not in f"{record.getMessage()} {record.__dict__!r}"
    with rollback_database.unit_of_work() as session:
        for entry in session.scalars(select(AuditEntry)):
            assert token not in f"{entry.target} {entry.details} {entry.actor}"


def test_the_enrolment_link_uses_the_public_url_when_one_is_configured(
    settings, rollback_database, clock
):
    configured = dataclasses.replace(settings, public_url="https://wachter.example.nl")
    app = create_app(configured, database=rollback_database, clock=clock)
    client = app.test_client()
    sign_in(client, enrolled_user(app, role="admin"), clock)
    response = post(client, "/admin/users", {"username": "extern", "role": "staff"})
    assert readonly_value(response.get_data(as_text=True), "enrolment-link").startswith(
        "https://wachter.example.nl/enrol/"
    )


def test_a_new_enrolment_link_replaces_the_earlier_one(app, client, admin):
    first = post(client, "/admin/users", {"username": "later", "role": "staff"})
    first_link = readonly_value(first.get_data(as_text=True), "enrolment-link")
    second = post(client, "/admin/users/later/enrolment-link")
    assert second.status_code == 200
    second_link = readonly_value(second.get_data(as_text=True), "enrolment-link")
    assert second_link != first_link
    visitor = app.test_client()
    assert visitor.get(urlsplit(first_link).path).status_code == 404
    assert visitor.get(urlsplit(second_link).path).status_code == 200


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({"username": "collega", "role": "staff"}, 409),  # exists (case-folded)
        ({"username": "COLLEGA", "role": "staff"}, 409),
        ({"username": "nieuw", "role": "superuser"}, 400),
        ({"username": "met spatie", "role": "staff"}, 400),
        ({"username": "", "role": "staff"}, 400),
    ],
)
def test_an_invalid_new_account_is_refused_without_change(
    client, admin, colleague, rollback_database, form, status
):
    with rollback_database.unit_of_work() as session:
        before = session.scalar(select(func.count()).select_from(User))
    assert post(client, "/admin/users", form).status_code == status
    with rollback_database.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(User)) == before


def test_disabling_signs_the_user_out_and_revokes_their_tokens(
    app, client, clock, admin, colleague, rollback_database
):
    their_client = signed_in_client(app, colleague, clock)
    token_text = issue_token(rollback_database, clock, owner_id=colleague.user_id)
    assert their_client.get("/dashboard").status_code == 200
    assert client.get("/api/v1/token", headers=bearer(token_text)).status_code == 200

    response = post(client, "/admin/users/collega/disable")
    assert response.status_code == 303
    assert response.location == "/admin/users"
    page = client.get("/admin/users").get_data(as_text=True)
    assert "collega is uitgeschakeld" in page
    assert "Uitgeschakeld" in row(page, f"user-{colleague.user_id}")

    signed_out = their_client.get("/dashboard")
    assert signed_out.status_code == 302
    assert urlsplit(signed_out.location).path == "/login"
    assert client.get("/api/v1/token", headers=bearer(token_text)).status_code == 401
    assert sessions_of(rollback_database, colleague.user_id) == 0
    with rollback_database.unit_of_work() as session:
        assert session.scalars(select(ApiToken.revoked_at)).one() == clock.now()

    assert post(client, "/admin/users/collega/enable").status_code == 303
    assert fetch_user(rollback_database, "collega").is_active
    sign_in(app.test_client(), colleague, clock)


def test_ending_someones_access_signs_them_out_everywhere_and_keeps_the_account(
    app, client, clock, admin, colleague, rollback_database
):
    # SECURITY_CASES #25: a stolen laptop or phone; the person keeps their account.
    phone, laptop = (signed_in_client(app, colleague, clock) for _ in range(2))
    token_text = issue_token(rollback_database, clock, owner_id=colleague.user_id)

    response = post(client, "/admin/users/collega/end-sessions")
    assert response.status_code == 303
    page = client.get("/admin/users").get_data(as_text=True)
    assert "collega is overal uitgelogd" in page
    for device in (phone, laptop):
        assert urlsplit(device.get("/dashboard").location).path == "/login"
    assert client.get("/api/v1/token", headers=bearer(token_text)).status_code == 401
    assert sessions_of(rollback_database, colleague.user_id) == 0
    assert fetch_user(rollback_database, "collega").is_active
    [entry] = audit_entries(rollback_database, "user.access_revoked")
    assert (entry.actor, entry.target) == ("beheerder", "user:collega")
    assert json.loads(entry.details)["reason"] == "ended by an administrator"
    sign_in(app.test_client(), colleague, clock)  # and can sign in again at once

    own = post(client, "/admin/users/beheerder/end-sessions")
    assert own.status_code == 409
    assert client.get("/admin/users").status_code == 200  # still signed in


def test_an_administrator_cannot_disable_or_demote_themselves(
    client, clock, admin, rollback_database
):
    response = post(client, "/admin/users/beheerder/disable")
    assert response.status_code == 409
    assert "U kunt uw eigen account niet uitschakelen" in response.get_data(as_text=True)
    step_up(client, admin, clock)
    assert post(client, "/admin/users/beheerder/role", {"role": "staff"}).status_code == 409
    stored = fetch_user(rollback_database, "beheerder")
    assert (stored.is_active, stored.role) == (True, "admin")
    assert client.get("/admin/users").status_code == 200  # still signed in, still admin


def test_unlocking_lifts_the_lock_of_too_many_wrong_codes(
    app, client, clock, admin, colleague, rollback_database
):
    with rollback_database.unit_of_work() as session:
        session.execute(
            update(User)
            .where(User.id == colleague.user_id)
            .values(locked_at=clock.now(), mfa_failures=10)
        )
    assert "Geblokkeerd" in row(
        client.get("/admin/users").get_data(as_text=True), f"user-{colleague.user_id}"
    )
    assert post(client, "/admin/users/collega/unlock").status_code == 303
    stored = fetch_user(rollback_database, "collega")
    assert (stored.locked_at, stored.mfa_failures) == (None, 0)
    sign_in(app.test_client(), colleague, clock)
    assert [e.target for e in audit_entries(rollback_database, "user.unlocked")] == ["user:collega"]


def test_an_unknown_account_is_404(client, admin):
    assert post(client, "/admin/users/niemand/disable").status_code == 404


def test_changing_a_role_needs_step_up_and_ends_the_users_sessions(
    app, client, clock, admin, colleague, rollback_database
):
    their_client = signed_in_client(app, colleague, clock)
    clock.advance(STEP_UP_EXPIRED)
    referrer = {"Referer": "http://localhost/admin/users"}
    response = post(client, "/admin/users/collega/role", {"role": "auditor"}, headers=referrer)
    assert response.status_code == 303
    location = urlsplit(response.location)
    assert (location.path, parse_qs(location.query)) == (
        "/account/confirm",
        {"next": ["/admin/users"]},
    )
    assert fetch_user(rollback_database, "collega").role == "soc_analyst"

    step_up(client, admin, clock)
    response = post(client, "/admin/users/collega/role", {"role": "auditor"})
    assert response.status_code == 303
    assert response.location == "/admin/users"
    assert fetch_user(rollback_database, "collega").role == "auditor"
    assert their_client.get("/dashboard").status_code == 302
    [changed] = audit_entries(rollback_database, "user.role_changed")
    assert json.loads(changed.details) == {"from": "soc_analyst", "to": "auditor"}
    assert changed.actor == "beheerder"


def test_an_unknown_role_is_refused(client, clock, admin, colleague, rollback_database):
    step_up(client, admin, clock)
    assert post(client, "/admin/users/collega/role", {"role": "root"}).status_code == 400
    assert fetch_user(rollback_database, "collega").role == "soc_analyst"


def test_resetting_mfa_needs_step_up_and_makes_the_user_enrol_again(
    app, client, clock, admin, colleague, rollback_database
):
    their_client = signed_in_client(app, colleague, clock)
    clock.advance(STEP_UP_EXPIRED)
    response = post(client, "/admin/users/collega/reset-mfa")
    assert response.status_code == 303
    assert urlsplit(response.location).path == "/account/confirm"
    assert fetch_user(rollback_database, "collega").totp_secret is not None

    step_up(client, admin, clock)
    assert post(client, "/admin/users/collega/reset-mfa").status_code == 303
    assert fetch_user(rollback_database, "collega").totp_secret is None
    assert their_client.get("/dashboard").status_code == 302
    page = client.get("/admin/users").get_data(as_text=True)
    assert "Niet geactiveerd" in row(page, f"user-{colleague.user_id}")
    assert [e.target for e in audit_entries(rollback_database, "mfa.reset")] == ["user:collega"]


# API tokens --------------------------------------------------------------------------------


def test_creating_a_token_needs_step_up_and_shows_the_token_once(
    client, clock, admin, rollback_database
):
    clock.advance(STEP_UP_EXPIRED)
    form = {"name": "siem-forwarder", "scope": ["alerts:read", "incidents:read"], "days": "30"}
    response = post(client, "/admin/tokens", form)
    assert response.status_code == 303
    assert urlsplit(response.location).path == "/account/confirm"
    with rollback_database.unit_of_work() as session:
        assert session.scalars(select(ApiToken)).all() == []

    step_up(client, admin, clock)
    response = post(client, "/admin/tokens", form)
    assert response.status_code == 201
    token_text = readonly_value(response.get_data(as_text=True), "token-text")
    assert token_text.startswith("wch_")

    described = client.get("/api/v1/token", headers=bearer(token_text))
    assert described.status_code == 200
    assert described.get_json() == {
        "name": "siem-forwarder",
        "scopes": ["alerts:read", "incidents:read"],
        "expires_at": (clock.now() + timedelta(days=30)).isoformat(),
    }
    listing = client.get("/admin/tokens").get_data(as_text=True)
    assert token_text not in listing
    assert token_text[17:] not in listing  # not even the secret part
    with rollback_database.unit_of_work() as session:
        token = session.scalars(select(ApiToken)).one()
        assert token.owner_id == admin.user_id
    token_row = row(listing, f"token-{token.id}")
    for shown in ("siem-forwarder", "alerts:read", "incidents:read", "beheerder", "Actief"):
        assert shown in token_row
    assert "nooit" not in token_row  # it was used just now
    for entry in audit_entries(rollback_database, "token.created"):
        assert token_text[17:] not in entry.details


@pytest.mark.parametrize(
    "form",
    [
        {"name": "t", "scope": "alerts:read", "days": "0"},
        {"name": "t", "scope": "alerts:read", "days": "91"},
        {"name": "t", "scope": "alerts:read", "days": "dertig"},
        {"name": "t", "scope": "alerts:read", "days": ""},
        {"name": "t", "days": "30"},
        {"name": "t", "scope": "alerts:write", "days": "30"},
        {"name": "", "scope": "alerts:read", "days": "30"},
        {"name": "t" * 101, "scope": "alerts:read", "days": "30"},
    ],
)
def test_an_invalid_token_request_is_refused(client, clock, admin, rollback_database, form):
    step_up(client, admin, clock)
    assert post(client, "/admin/tokens", form).status_code == 400
    with rollback_database.unit_of_work() as session:
        assert session.scalars(select(ApiToken)).all() == []


def test_revoking_a_token_works_at_once(client, clock, admin, rollback_database):
    token_text = issue_token(rollback_database, clock, name="oud")
    assert client.get("/api/v1/token", headers=bearer(token_text)).status_code == 200
    with rollback_database.unit_of_work() as session:
        token_id = session.scalars(select(ApiToken.id)).one()

    response = post(client, f"/admin/tokens/{token_id}/revoke")
    assert response.status_code == 303
    assert response.location == "/admin/tokens"
    assert client.get("/api/v1/token", headers=bearer(token_text)).status_code == 401
    listing = client.get("/admin/tokens").get_data(as_text=True)
    assert "Het token “oud” is ingetrokken." in listing
    token_row = row(listing, f"token-{token_id}")
    assert "Ingetrokken" in token_row
    assert "/revoke" not in token_row
    assert post(client, "/admin/tokens/999999/revoke").status_code == 404


# CSRF ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(len(state_changing_posts("collega"))))
def test_every_state_change_without_csrf_token_is_refused(
    client, clock, admin, colleague, rollback_database, index
):
    issue_token(rollback_database, clock)
    step_up(client, admin, clock)
    with rollback_database.unit_of_work() as session:
        token_id = session.scalars(select(ApiToken.id)).one()
        users_before = session.scalar(select(func.count()).select_from(User))
        last = session.scalar(select(func.max(AuditEntry.id)))
    path = state_changing_posts("collega")[index].replace("/tokens/1/", f"/tokens/{token_id}/")
    form = {"username": "x", "role": "staff", "name": "t", "scope": "alerts:read", "days": "9"}
    response = client.post(path, data=form)
    assert response.status_code == 400
    stored = fetch_user(rollback_database, "collega")
    assert (stored.is_active, stored.role, stored.totp_secret is not None) == (
        True,
        "soc_analyst",
        True,
    )
    with rollback_database.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(User)) == users_before
        assert session.scalars(select(ApiToken.revoked_at)).all() == [None]
        new_entries = session.execute(
            select(AuditEntry.action, AuditEntry.target).where(AuditEntry.id > last)
        ).all()
    assert [tuple(entry) for entry in new_entries] == [("csrf.rejected", f"POST {path}")]


# Escaping and the content security policy ---------------------------------------------------------


def test_a_display_name_with_markup_is_shown_as_text(client, admin):
    name = "<script>alert(1)</script>"
    created = post(
        client, "/admin/users", {"username": "xss", "display_name": name, "role": "staff"}
    )
    for page in (created.get_data(as_text=True), client.get("/admin/users").get_data(as_text=True)):
        assert name not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert inline_scripts(Page(page)) == []


def admin_pages(client: FlaskClient, clock, admin: Account) -> dict[str, str]:
    step_up(client, admin, clock)
    return {
        "users": client.get("/admin/users").get_data(as_text=True),
        "tokens": client.get("/admin/tokens").get_data(as_text=True),
        "audit": client.get("/audit").get_data(as_text=True),
        "link": post(client, "/admin/users", {"username": "nieuw", "role": "staff"}).get_data(
            as_text=True
        ),
        "token": post(
            client, "/admin/tokens", {"name": "t", "scope": "alerts:read", "days": "1"}
        ).get_data(as_text=True),
    }


def test_administration_pages_need_no_inline_script_or_style(client, clock, admin, colleague):
    for name, page in admin_pages(client, clock, admin).items():
        parsed = Page(page)
        assert inline_scripts(parsed) == [], name
        assert parsed.tagged("style") == [], name
        assert event_handlers(parsed) == [], name
        assert style_attributes(parsed) == [], name


def test_every_form_field_has_a_label_and_every_post_a_csrf_token(client, clock, admin, colleague):
    for name, page in admin_pages(client, clock, admin).items():
        parsed = Page(page)
        labelled = {e.attributes.get("for") for e in parsed.tagged("label")}
        fields = [
            e
            for e in parsed.elements
            if e.tag in ("input", "select") and e.attributes.get("type") != "hidden"
        ]
        for field in fields:
            if field.attributes.get("type") == "submit":
                continue
            assert field.attributes.get("id") in labelled, (name, field.attributes)
        for form in parsed.forms:
            if form.attributes.get("method") == "post":
                assert any(
                    e.attributes.get("name") == "csrf_token" for e in parsed.contents_of(form)
                ), (name, form.attributes)
        assert all(th.attributes.get("scope") in ("col", "row") for th in parsed.tagged("th")), name
