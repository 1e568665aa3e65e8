"""A staff-safety incident on the console's incident pages: its title's category and its phase
in the reader's language, not the stored keys ("MEL-2026-00007 verbal_abuse", "reported"),
except in the field where an officer edits the title."""

from __future__ import annotations

import pytest

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
