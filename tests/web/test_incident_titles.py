"""A staff-safety incident on the console's incident pages: its title's category and its phase
in the reader's language, not the stored keys ("MEL-2026-00007 verbal_abuse", "reported"),
except in the field where an officer edits the title."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from incidents.cases.models import IncidentEntity
from tests.support.incident_factories import make_incident

pytestmark = pytest.mark.one_backend  # page rendering; the queries are tested elsewhere


@pytest.fixture
def staff_incident(rollback_database, clock):
    with rollback_database.unit_of_work() as session:
        incident = make_incident(
            session,
            type="staff_safety",
            state="reported",
            title="MEL-2026-00007 verbal_abuse",
            tlp="amber+strict",
            created_at=clock.now(),
        )
        return incident.id


@pytest.mark.parametrize(
    ("language", "title", "state"),
    [
        ("nl", "MEL-2026-00007 verbale agressie", "ontvangen"),
        ("en", "MEL-2026-00007 verbal abuse", "received"),
    ],
)
def test_the_list_and_the_page_read_in_the_readers_language(
    client, officer, staff_incident, language, title, state
):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language

    listing = client.get("/incidents").get_data(as_text=True)
    page = client.get(f"/incidents/{staff_incident}").get_data(as_text=True)

    for html in (listing, page):
        assert title in html
        assert f">{state}</span>" in html
    assert "verbal_abuse" not in listing
    assert f": {title}</h1>" in page
    # Only the edit form holds the stored text, the one an officer would change.
    assert page.count("verbal_abuse") == 1
    assert 'value="MEL-2026-00007 verbal_abuse"' in page


def test_related_incidents_cost_the_same_queries_for_one_as_for_many(
    client, officer, rollback_database, clock
):
    """The related list loads only the columns it shows, the type among them (it labels a
    staff-safety title): a column left out is one more query per related incident, which
    the console benchmark caught (29 statements per incident page became 79)."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"

    def queries_for(related: int) -> int:
        address = f"10.9.{related}.1"
        with rollback_database.unit_of_work() as session:
            shown = make_incident(session, created_at=clock.now())
            others = [
                make_incident(session, type="staff_safety", title=f"MEL-2026-{number:05d} doxing")
                for number in range(related)
            ]
            for incident in (shown, *others):
                session.add(
                    IncidentEntity(
                        incident_id=incident.id,
                        origin_incident_id=incident.id,
                        kind="ip",
                        value=address,
                        added_at=clock.now(),
                        added_by="test",
                    )
                )
            shown_id = shown.id
        statements: list[str] = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(rollback_database.engine, "before_cursor_execute", listener)
        try:
            page = client.get(f"/incidents/{shown_id}").text
        finally:
            event.remove(rollback_database.engine, "before_cursor_execute", listener)
        assert page.count('id="related-incident-') == related
        assert "doxing or exposure of personal data" in page
        return len(statements)

    assert queries_for(1) == queries_for(6)
