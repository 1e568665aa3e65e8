"""Where notifications go: an account's e-mail address, set through the service, the
administration page and ``wachter user add --email``; validated, audited without the
address, and only active accounts with an address get e-mail from the outbox."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from access_control import Actor
from access_control.models import AuditEntry, User
from access_control.users import set_email
from core import InvalidInput
from incidents.notifications.models import Notification
from incidents.notifications.outbox import NotificationKind, enqueue
from storage import Database, migrate
from tests.factories import make_user
from tests.support.accounts import enrolled_user, sign_in
from tests.support.admin import audit_entries, fetch_user, post, sign_in_admin
from tests.support.incident_factories import make_incident
from tests.support.processes import clean_env, run_wachter

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ADMIN = Actor(name="beheerder", user_id=None)


@pytest.fixture
def client(client):
    # Messages are read in English here; test_i18n checks every message has its Dutch.
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def email_audits(session) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.action == "user.email_changed")
    return list(session.scalars(query))


def test_an_address_is_set_trimmed_changed_cleared_and_audited_without_it(db_session):
    user = make_user(db_session)
    set_email(db_session, user=user, email="  Anna@Example.NL ", actor=ADMIN, now=NOW)
    assert user.email == "Anna@example.nl"
    set_email(db_session, user=user, email="Anna@example.nl", actor=ADMIN, now=NOW)  # no change
    set_email(db_session, user=user, email="", actor=ADMIN, now=NOW)
    assert user.email is None
    audits = email_audits(db_session)
    assert [entry.details for entry in audits] == ['{"has_email":true}', '{"has_email":false}']
    assert all("example" not in entry.details + entry.target for entry in audits)


@pytest.mark.parametrize(
    "address",
    [
        "anna",
        "anna@localhost",
        "anna@@example.nl",
        "anna de vries@example.nl",
        "anna@example.nl\r\nBcc: all@example.nl",
        "<anna@example.nl>",
        "Anna <anna@example.nl>",
        "a" * 250 + "@example.nl",
    ],
)
def test_a_bad_address_is_refused_and_nothing_changes(db_session, address):
    user = make_user(db_session, email="old@example.nl")
    with pytest.raises(InvalidInput) as caught:
        set_email(db_session, user=user, email=address, actor=ADMIN, now=NOW)
    assert caught.value.field == "email"
    assert "is not an e-mail address" in caught.value.message
    assert user.email == "old@example.nl"
    assert email_audits(db_session) == []


def test_the_outbox_writes_email_only_for_active_accounts_with_an_address(db_session):
    with_address = make_user(db_session, email="a@example.nl")
    without = make_user(db_session)
    disabled = make_user(db_session, email="b@example.nl", is_active=False)
    incident = make_incident(db_session)
    rows = enqueue(
        db_session,
        kind=NotificationKind.ASSIGNMENT,
        incident_id=incident.id,
        user_ids=[with_address.id, without.id, disabled.id, with_address.id],
        payload={"reference": incident.reference},
        now=NOW,
    )
    assert [(row.channel, row.recipient_user_id) for row in rows] == [("email", with_address.id)]
    stored = db_session.scalars(select(Notification)).one()
    assert "a@example.nl" not in stored.payload


def test_an_administrator_sets_an_address_on_the_users_page(app, client, clock, rollback_database):
    sign_in_admin(app, client, clock)
    with rollback_database.unit_of_work() as session:
        make_user(session, username="officier", role="security_officer")
    response = post(client, "/admin/users/officier/email", {"email": "officier@example.nl"})
    assert response.status_code == 303
    assert fetch_user(rollback_database, "officier").email == "officier@example.nl"
    page = client.get("/admin/users").get_data(as_text=True)
    assert 'value="officier@example.nl"' in page
    [entry] = audit_entries(rollback_database, "user.email_changed")
    assert (entry.actor, entry.target) == ("beheerder", "user:officier")


def test_a_bad_address_on_the_users_page_changes_nothing(app, client, clock, rollback_database):
    sign_in_admin(app, client, clock)
    with rollback_database.unit_of_work() as session:
        make_user(session, username="officier", email="old@example.nl")
    response = post(client, "/admin/users/officier/email", {"email": "not an address"})
    assert response.status_code == 400
    assert "is not an e-mail address" in response.get_data(as_text=True)
    assert fetch_user(rollback_database, "officier").email == "old@example.nl"
    assert audit_entries(rollback_database, "user.email_changed") == []


def test_a_new_account_can_get_its_address_at_once(app, client, clock, rollback_database):
    sign_in_admin(app, client, clock)
    response = post(
        client,
        "/admin/users",
        {"username": "nieuw", "role": "security_officer", "email": "nieuw@example.nl"},
    )
    assert response.status_code == 201
    assert fetch_user(rollback_database, "nieuw").email == "nieuw@example.nl"
    refused = post(client, "/admin/users", {"username": "fout", "role": "staff", "email": "fout@"})
    assert refused.status_code == 400
    with rollback_database.unit_of_work() as session:
        assert session.scalar(select(User).where(User.username == "fout")) is None


def test_only_user_administrators_set_addresses(app, client, clock, rollback_database):
    sign_in(client, enrolled_user(app, role="security_officer"), clock)
    with rollback_database.unit_of_work() as session:
        make_user(session, username="ander")
    response = post(client, "/admin/users/ander/email", {"email": "x@example.nl"})
    assert response.status_code == 403
    assert fetch_user(rollback_database, "ander").email is None


def test_the_command_line_takes_an_address_for_a_new_account(tmp_path):
    env = clean_env(WACHTER_DATA_DIR=str(tmp_path / "var"))
    database = Database.from_url(f"sqlite:///{tmp_path / 'var' / 'wachter.db'}")
    try:
        (tmp_path / "var").mkdir(mode=0o700)
        migrate.upgrade(database)
        added = run_wachter(
            "user", "add", "anna", "--role", "security_officer", "--email", "anna@example.nl",
            cwd=tmp_path, env=env,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        with database.unit_of_work() as session:
            emails = dict(session.execute(select(User.username, User.email)).all())
            [audit] = email_audits(session)
    finally:
        database.dispose()
    assert emails == {"anna": "anna@example.nl"}
    assert audit.actor.startswith("cli:")
