"""Saved searches on the event search page: save, list, run, delete; own searches only.

Saving and deleting are POST forms with the CSRF token; a bad name or query shows the
reason beside the save form (400) and stores nothing; someone else's id is a 404.
"""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from ingest.models import SavedSearch
from tests.support.accounts import enrolled_user, sign_in
from tests.support.admin import audit_entries, post, signed_in_client


def saved_count(database) -> int:
    with database.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(SavedSearch))


def saved_links(page: str) -> list[tuple[str, str]]:
    """(name, run link) of each saved search listed."""
    listed = re.search(r'<ul class="saved-list">(.*?)</ul>', page, re.S)
    found = re.findall(r'<li>\s*<a href="([^"]*)">([^<]*)</a>', listed.group(1) if listed else "")
    return [(html.unescape(name), html.unescape(link)) for link, name in found]


def save(client, **fields):
    data = {"q": "user.name:root", "since": "now-24h", "until": "", "name": "Root", **fields}
    return post(client, "/events/saved", data)


@pytest.fixture
def analyst(app, client, clock):
    account = enrolled_user(app, role="soc_analyst", username="analist")
    sign_in(client, account, clock)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return account


def test_a_saved_search_is_listed_beside_the_search_and_runs_with_a_click(
    client, analyst, rollback_database
):
    response = save(client, name="Root last day")
    assert response.status_code == 303
    run = "/events?q=user.name:root&since=now-24h"
    assert response.headers["Location"] == run
    page = client.get(run).get_data(as_text=True)
    assert "Search saved as “Root last day”." in page
    assert saved_links(page) == [("Root last day", run)]
    [entry] = audit_entries(rollback_database, "saved_search.create")
    assert entry.actor == "analist"


def test_a_name_with_markup_is_shown_as_text_in_the_message_and_the_list(
    client, analyst, rollback_database
):
    # SECURITY_CASES #47: a reflected value in a flash message is escaped like any other.
    name = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    response = save(client, name=name)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert "<img src=x" not in page
    [message] = re.findall(r"Search saved as “[^”]*”\.", page)
    assert html.unescape(message) == f"Search saved as “{name}”."  # escaped, and whole
    assert saved_links(page)[0][0] == name


def test_the_save_form_carries_the_search_just_run(client, analyst):
    page = client.get("/events", query_string={"q": 'message:"a b"', "until": "2026-01-31"})
    text = page.get_data(as_text=True)
    assert '<input type="hidden" name="q" value="message:&#34;a b&#34;">' in text
    assert '<input type="hidden" name="until" value="2026-01-31">' in text
    assert 'id="saved-name"' in text
    assert 'id="saved-name"' not in client.get("/events").get_data(as_text=True)  # no query yet


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "x" * 81}, "A name is at most 80 characters."),
        ({"q": "  "}, "A saved search needs a query"),
        ({"q": "user.name:("}, "query"),
        ({"since": "last tuesday"}, "is not a time"),
    ],
)
def test_bad_input_shows_the_reason_beside_the_form_and_stores_nothing(
    client, analyst, rollback_database, fields, message
):
    response = save(client, **fields)
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    error = re.search(
        r'<p class="notice notice--error" id="saved-error" role="alert">([^<]*)', page
    )
    assert error
    assert message in error.group(1)
    assert saved_count(rollback_database) == 0


def test_a_duplicate_name_is_refused_and_the_first_search_kept(client, analyst, rollback_database):
    save(client, name="Root")
    response = save(client, name="root", q="user.name:admin")
    assert response.status_code == 400
    assert "You already have a saved search called “root”" in response.get_data(as_text=True)
    assert saved_count(rollback_database) == 1


def test_users_see_and_delete_only_their_own_searches(
    app, client, clock, analyst, rollback_database
):
    save(client, name="Mine")
    other = signed_in_client(app, enrolled_user(app, role="security_officer"), clock)
    assert saved_links(other.get("/events").get_data(as_text=True)) == []
    with rollback_database.unit_of_work() as session:
        saved_id = session.scalar(select(SavedSearch.id))
    assert post(other, f"/events/saved/{saved_id}/delete").status_code == 404
    assert saved_count(rollback_database) == 1

    response = post(client, f"/events/saved/{saved_id}/delete")
    assert (response.status_code, response.headers["Location"]) == (303, "/events")
    assert "Saved search “Mine” deleted." in client.get("/events").get_data(as_text=True)
    assert saved_count(rollback_database) == 0
    assert len(audit_entries(rollback_database, "saved_search.delete")) == 1


def test_saving_needs_the_csrf_token_and_the_events_role(app, client, clock, rollback_database):
    sign_in(client, enrolled_user(app, role="soc_analyst"), clock)
    fields = {"q": "*", "name": "x"}
    assert client.post("/events/saved", data=fields).status_code in (400, 403)
    auditor = signed_in_client(app, enrolled_user(app, role="auditor"), clock)
    assert post(auditor, "/events/saved", fields).status_code == 403
    assert saved_count(rollback_database) == 0
