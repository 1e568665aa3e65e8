"""The audit trail viewer: filters, paging, the chain state, its own read, escaping.

Every test runs on SQLite and PostgreSQL (the ``app`` fixture's database).
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text, update

from access_control.models import AuditEntry
from tests.support.accounts import Account, enrolled_user, sign_in
from tests.support.admin import audit_entries, entry_ids, record, row, sign_in_admin
from tests.web.test_templates import Page, event_handlers


@pytest.fixture
def admin(app: Flask, client: FlaskClient, clock) -> Account:
    return sign_in_admin(app, client, clock)


def test_the_viewer_shows_an_intact_chain_and_records_its_own_read(
    client, clock, admin, rollback_database
):
    page = client.get("/audit").get_data(as_text=True)
    assert "De keten is intact." in page
    [read] = audit_entries(rollback_database, "audit.read")
    assert (read.actor, read.target, read.outcome) == ("beheerder", "audit:list", "success")
    assert entry_ids(page)[0] == read.id - 1  # newest first; the read follows the listing
    assert entry_ids(client.get("/audit").get_data(as_text=True))[0] == read.id


def test_an_auditor_reads_the_trail_and_the_read_is_theirs(app, client, clock, rollback_database):
    sign_in(client, enrolled_user(app, role="auditor", username="controleur"), clock)
    assert client.get("/audit").status_code == 200
    assert [e.actor for e in audit_entries(rollback_database, "audit.read")] == ["controleur"]


def test_the_action_filter_is_a_literal_prefix(client, clock, admin, rollback_database):
    when = clock.now()
    wanted = record(rollback_database, "test_a.one", when=when)
    record(rollback_database, "testxa.two", when=when)
    record(rollback_database, "testa.three", when=when)
    assert entry_ids(client.get("/audit?action=test_a").get_data(as_text=True)) == [wanted]
    assert entry_ids(client.get("/audit?action=TEST_A.").get_data(as_text=True)) == [wanted]
    for literal in ("%", "test%", "_est", "' OR 1=1--", "\\"):
        response = client.get("/audit", query_string={"action": literal})
        assert response.status_code == 200
        assert entry_ids(response.get_data(as_text=True)) == [], literal


def test_the_viewer_filters_by_outcome_actor_and_dates(client, clock, admin, rollback_database):
    day = datetime(2020, 3, 2, tzinfo=UTC)
    early = record(rollback_database, "range.test", when=day - timedelta(seconds=1))
    first = record(rollback_database, "range.test", when=day, outcome="denied", actor="eve")
    last = record(rollback_database, "range.test", when=day + timedelta(hours=23, minutes=59))
    late = record(rollback_database, "range.test", when=day + timedelta(days=1), outcome="denied")

    def ids(**query):
        response = client.get("/audit", query_string={"action": "range.", **query})
        assert response.status_code == 200
        return entry_ids(response.get_data(as_text=True))

    assert ids() == [late, last, first, early]
    assert ids(since="2020-03-02", until="2020-03-02") == [last, first]
    assert ids(since="2020-03-03") == [late]
    assert ids(until="2020-03-01") == [early]
    assert ids(outcome="denied") == [late, first]
    assert ids(actor="eve") == [first]
    assert ids(actor="ev") == []  # the actor is matched exactly


def test_the_viewer_pages_back_fifty_entries_at_a_time(client, clock, admin, rollback_database):
    created = [record(rollback_database, "page.test", when=clock.now()) for _ in range(60)]
    first = client.get("/audit?action=page.").get_data(as_text=True)
    assert entry_ids(first) == created[:-51:-1]
    older = re.search(r'href="([^"]+)" rel="next"', first)
    assert older
    target = html.unescape(older.group(1))
    assert parse_qs(urlsplit(target).query) == {
        "action": ["page."],
        "before": [str(created[10])],
    }
    second = client.get(target).get_data(as_text=True)
    assert entry_ids(second) == created[9::-1]
    assert 'rel="next"' not in second
    assert "Nieuwste regels" in second


def test_the_viewer_shows_where_the_chain_is_broken(client, clock, admin, rollback_database):
    target = record(rollback_database, "tamper.test", when=clock.now())
    record(rollback_database, "tamper.after", when=clock.now())
    with rollback_database.unit_of_work() as session:
        if session.get_bind().dialect.name == "sqlite":
            session.execute(text("DROP TRIGGER audit_entry_append_only_update"))
        else:
            session.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only"))
        session.execute(update(AuditEntry).where(AuditEntry.id == target).values(target="test:2"))
    page = client.get("/audit").get_data(as_text=True)
    assert f"De keten is verbroken bij regel {target}." in page
    assert "De keten is intact" not in page
    assert 'class="untrusted"' in row(page, f"entry-{target}")
    assert 'class="untrusted"' not in row(page, f"entry-{target - 1}")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"since": "2026-02-30"}, "De begindatum is geen geldige datum"),
        ({"since": "gisteren"}, "De begindatum is geen geldige datum"),
        ({"until": "2026/01/01"}, "De einddatum is geen geldige datum"),
        ({"until": "20260101"}, "De einddatum is geen geldige datum"),
        ({"since": "2026-02-01", "until": "2026-01-31"}, "De begindatum ligt na de einddatum"),
        ({"outcome": "maybe"}, "Kies een resultaat uit de lijst"),
        ({"outcome": "SUCCESS"}, "Kies een resultaat uit de lijst"),
        ({"before": "abc"}, "Die pagina bestaat niet"),
        ({"before": "-1"}, "Die pagina bestaat niet"),
        ({"before": "0"}, "Die pagina bestaat niet"),
        ({"before": "1 OR 1=1"}, "Die pagina bestaat niet"),
        ({"before": "9" * 30}, "Die pagina bestaat niet"),
        ({"before": str(2**63)}, "Die pagina bestaat niet"),
        ({"action": "a" * 101}, "Een filter is te lang"),
        ({"actor": "a" * 201}, "Een filter is te lang"),
    ],
)
def test_invalid_filters_are_a_400_with_a_message(client, admin, rollback_database, query, message):
    response = client.get("/audit", query_string=query)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert audit_entries(rollback_database, "audit.read") == []


def test_the_end_of_time_is_a_valid_end_date(client, admin):
    assert client.get("/audit?since=0001-01-01&until=9999-12-31").status_code == 200


def test_an_audit_target_with_markup_is_shown_as_text(client, clock, admin, rollback_database):
    target = '<img src=x onerror="alert(1)">'
    record(rollback_database, "xss.test", when=clock.now(), target=target, actor='"><svg onload=x>')
    page = client.get("/audit?action=xss.").get_data(as_text=True)
    assert target not in page
    assert "&lt;img src=x onerror=" in page
    assert "<svg" not in page
    parsed = Page(page)
    assert parsed.tagged("img") == []
    assert event_handlers(parsed) == []
