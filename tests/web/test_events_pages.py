"""The console's event search (/events) and dead letters (/ingest/dead-letters).

Roles, the audited read per page view, messages for bad input, escaping of hostile event
content, paging, the empty state. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from ingest.dead_letters import Rejection, record_dead_letters
from ingest.normalise import finish
from storage.events import Event, append_events
from tests.support.accounts import enrolled_user, sign_in
from tests.support.admin import audit_entries
from tests.web.test_templates import Page, event_handlers, inline_scripts

SENT = datetime(2026, 1, 1, tzinfo=UTC)
HOSTILE = (
    '<img src=x onerror="alert(1)"></td><script>alert(2)</script>'
    "\n2026-01-01 INFO user=admin login ok\x1b[2J\u2028\u202eevil"
)


def store_events(database, *documents, source="test"):
    """Store ``documents`` as log collection would; returns their ids, oldest first."""
    with database.unit_of_work() as session:
        records = [
            finish(dict(document), source=source, event_key=f"{source}-{number}", ingested=SENT)
            for number, document in enumerate(documents)
        ]
        append_events(session, records)
        query = select(Event.id).where(Event.source == source).order_by(Event.id)
        return list(session.scalars(query))


def event_ids(page: str) -> list[int]:
    return [int(number) for number in re.findall(r'<tr id="event-(\d+)"', page)]


def letter_ids(page: str) -> list[int]:
    return [int(number) for number in re.findall(r'<tr id="letter-(\d+)"', page)]


@pytest.fixture
def analyst(app, client, clock):
    account = enrolled_user(app, role="soc_analyst", username="analist")
    sign_in(client, account, clock)
    return account


# Who may look --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/events", "/ingest/dead-letters"])
@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("soc_analyst", 200),
        ("security_officer", 200),
        ("staff", 403),
        ("auditor", 403),
        ("admin", 403),
    ],
)
def test_only_roles_that_read_events_see_the_pages(app, client, clock, path, role, status):
    sign_in(client, enrolled_user(app, role=role), clock)
    assert client.get(path).status_code == status


@pytest.mark.parametrize("path", ["/events", "/ingest/dead-letters"])
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code in (302, 303)
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize(("role", "shown"), [("soc_analyst", True), ("admin", False)])
def test_the_navigation_offers_the_pages_to_those_who_may_see_them(app, client, clock, role, shown):
    sign_in(client, enrolled_user(app, role=role), clock)
    page = client.get("/account").get_data(as_text=True)
    assert ('href="/events"' in page) is shown
    assert ('href="/ingest/dead-letters"' in page) is shown


# Searching -------------------------------------------------------------------------------


def test_a_search_shows_the_matching_events_newest_first(client, analyst, rollback_database):
    first, _other, third = store_events(
        rollback_database,
        {
            "message": "Failed password for root",
            "user": {"name": "root"},
            "host": {"name": "web-1"},
        },
        {"message": "Accepted password for alice", "user": {"name": "alice"}},
        {"message": "Failed password for root again", "user": {"name": "root"}},
    )
    page = client.get("/events", query_string={"q": "user.name:root"}).get_data(as_text=True)
    assert event_ids(page) == [third, first]
    assert "Failed password for root again" in page
    assert "web-1" in page


def test_every_search_is_an_audited_read_with_the_query_not_the_results(
    client, analyst, clock, rollback_database
):
    store_events(rollback_database, {"message": "secret-ish content", "user": {"name": "bob"}})
    client.get("/events", query_string={"q": "user.name:bob", "since": "now-7d"})
    client.get("/events")
    reads = audit_entries(rollback_database, "event.read")
    assert [(read.actor, read.target, read.outcome) for read in reads] == [
        ("analist", "event:search", "success"),
        ("analist", "event:search", "success"),
    ]
    details = json.loads(reads[0].details)
    assert details == {"query": "user.name:bob", "since": "now-7d", "until": "", "before": None}
    assert "secret-ish" not in reads[0].details
    assert reads[0].occurred_at == clock.now()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"q": "user.name:roo~1"}, "Zoeken op gelijkenis (~) kan niet (teken 11)"),
        ({"q": "(user.name:root"}, "De zoekvraag houdt te vroeg op"),
        ({"q": "a AND OR b"}, "bij teken 7 niet te lezen, bij “OR b”"),
        ({"q": "x" * 2001}, "De zoekvraag is langer dan 2000 tekens."),
        ({"since": "gisteren"}, "“gisteren” is geen tijd"),
        (
            {"since": "2026-02-01", "until": "2026-01-01"},
            "Het begin van de periode ligt na het einde.",
        ),
        ({"before": "abc"}, "Die pagina bestaat niet."),
        ({"before": "0"}, "Die pagina bestaat niet."),
        ({"before": str(2**63)}, "Die pagina bestaat niet."),
        ({"before": "1-1" + "0" * 70}, "Die pagina bestaat niet."),  # longer than any cursor
        ({"until": "9" * 65}, "Een tijd is hoogstens 64 tekens lang."),
    ],
)
def test_a_bad_search_is_explained_on_the_form_and_not_audited(
    client, analyst, rollback_database, query, message
):
    response = client.get("/events", query_string=query)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert html.escape(message, quote=False) in page or message in html.unescape(page)
    assert 'role="alert"' in page
    assert 'name="q"' in page  # the form is still there to correct it
    assert audit_entries(rollback_database, "event.read") == []


def test_the_bad_query_stays_in_the_box_escaped(client, analyst):
    query = '"><script>alert(1)</script> x~'
    page = client.get("/events", query_string={"q": query}).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    [box] = [
        element for element in Page(page).tagged("input") if element.attributes.get("id") == "q"
    ]
    assert box.attributes["value"] == query
    assert box.attributes["aria-invalid"] == "true"


def test_the_message_is_in_english_for_an_english_reader(client, analyst):
    response = client.get("/events?q=a~", headers={"Accept-Language": "en"})
    assert "Fuzzy search (~) is not supported (character 1)" in response.get_data(as_text=True)


def test_the_search_form_is_a_get_form_without_a_csrf_token(client, analyst):
    page = Page(client.get("/events").get_data(as_text=True))
    [form] = [form for form in page.forms if form.attributes.get("action") == "/events"]
    assert form.attributes["method"] == "get"
    assert all(element.attributes.get("name") != "csrf_token" for element in page.contents_of(form))


def test_hostile_event_content_is_shown_as_escaped_text(client, analyst, rollback_database):
    store_events(
        rollback_database,
        {
            "message": HOSTILE,
            "user": {"name": '"><svg onload=alert(3)>'},
            "host": {"name": "h\x1b[31mred"},
            "labels": {"note": "</pre></details><img src=y onerror=alert(4)>"},
        },
    )
    page = client.get("/events").get_data(as_text=True)
    parsed = Page(page)
    assert parsed.tagged("img") == []
    # The one svg is the histogram's own (an svg from the event would have no class).
    assert [svg.attributes.get("class") for svg in parsed.tagged("svg")] == ["histogram-chart"]
    assert inline_scripts(parsed) == []
    assert event_handlers(parsed) == []
    # Control characters, separators and bidi controls never reach the page raw.
    for character in ("\x1b", "\u2028", "\u202e"):
        assert character not in page
    assert '<mark class="hidden-character" title="U+001B">\\x1b</mark>[2J' in page
    assert '<mark class="hidden-character" title="U+001B">\\u001b</mark>' not in page
    assert '<mark class="hidden-character" title="U+2028">\\u2028</mark>' in page
    assert '<mark class="hidden-character" title="U+202E">\\u202e</mark>evil' in page
    # The forged log line is visibly one message, its line break shown as \n.
    assert '<mark class="hidden-character" title="U+000A">\\n</mark>' in page
    assert "h<mark" in page


def test_the_full_document_is_valid_json_once_the_marks_are_removed(
    client, analyst, rollback_database
):
    document = {"message": HOSTILE, "nested": {"list": [1, "\u2029", None], "big": 2**60}}
    store_events(rollback_database, document)
    page = client.get("/events").get_data(as_text=True)
    shown = re.search(r'<pre class="details">(.*?)</pre>', page, re.DOTALL).group(1)
    text = html.unescape(re.sub(r"</?mark[^>]*>", "", shown))
    loaded = json.loads(text)
    assert loaded["message"] == HOSTILE
    assert loaded["nested"] == document["nested"]


def test_older_events_are_one_link_away_and_keep_the_search(client, analyst, rollback_database):
    ids = store_events(rollback_database, *({"message": f"page test {n}"} for n in range(55)))
    first = client.get("/events", query_string={"q": '"page test"', "since": "2025-12-01"})
    page = first.get_data(as_text=True)
    assert event_ids(page) == ids[:-51:-1]
    older = re.search(r'href="([^"]+)" rel="next"', page)
    target = html.unescape(older.group(1))
    asked = parse_qs(urlsplit(target).query)
    assert asked.pop("before")[0].endswith(f"-{ids[5]}")  # the last shown: its time, its id
    assert asked == {"q": ['"page test"'], "since": ["2025-12-01"]}
    second = client.get(target).get_data(as_text=True)
    assert event_ids(second) == ids[4::-1]
    assert 'rel="next"' not in second
    assert "Nieuwste gebeurtenissen" in second


def test_an_empty_store_tells_a_newcomer_how_events_get_in(client, analyst):
    page = client.get("/events").get_data(as_text=True)
    assert "Er zijn nog geen gebeurtenissen opgeslagen." in page
    assert "POST /api/v1/events" in page
    assert "wachter ingest" in page
    assert "docs/ingest.md" in page


def test_a_search_without_results_says_so(client, analyst, rollback_database):
    store_events(rollback_database, {"message": "something"})
    page = client.get("/events?q=nothing-like-this").get_data(as_text=True)
    assert "Geen gebeurtenissen gevonden bij deze zoekvraag." in page
    assert "Er zijn nog geen gebeurtenissen" not in page


def test_the_time_and_flags_of_an_event_are_shown(client, analyst, rollback_database):
    store_events(rollback_database, {"@timestamp": "2030-01-01T00:00:00Z", "message": "future"})
    page = client.get("/events").get_data(as_text=True)
    assert "2030-01-01 00:00:00" in page
    assert "clock_skew" in page


# Dead letters ---------------------------------------------------------------------------


def store_rejections(database, *raws, receiver="http", source="token:1"):
    with database.unit_of_work() as session:
        record_dead_letters(
            session,
            [Rejection(reason=f"bad input {n}", raw=raw) for n, raw in enumerate(raws)],
            receiver=receiver,
            source=source,
            received_at=SENT,
        )


def test_dead_letters_are_listed_newest_first_with_their_count(client, analyst, rollback_database):
    store_rejections(
        rollback_database, b"first", b"second", receiver="syslog-udp", source="10.0.0.9"
    )
    page = client.get("/ingest/dead-letters").get_data(as_text=True)
    assert "Regels: 2" in page
    ids = letter_ids(page)
    assert len(ids) == 2
    assert ids == sorted(ids, reverse=True)
    assert page.index("bad input 1") < page.index("bad input 0")
    assert "syslog-udp" in page
    assert "10.0.0.9" in page
    assert "2026-01-01 00:00:00" in page


def test_reading_the_dead_letters_is_an_audited_read(client, analyst, rollback_database):
    client.get("/ingest/dead-letters")
    [read] = audit_entries(rollback_database, "dead_letter.read")
    assert (read.actor, read.target) == ("analist", "dead_letter:list")


def test_hostile_raw_input_is_escaped_with_control_characters_visible(
    client, analyst, rollback_database
):
    raw = HOSTILE.encode() + b"\xff\xfe"
    store_rejections(rollback_database, raw)
    page = client.get("/ingest/dead-letters").get_data(as_text=True)
    parsed = Page(page)
    assert parsed.tagged("img") == []
    assert inline_scripts(parsed) == []
    assert event_handlers(parsed) == []
    for character in ("\x1b", "\u2028", "\u202e"):
        assert character not in page
    assert "\\x1b</mark>[2J" in page
    assert "\\xff\\xfe" in page  # undecodable bytes, as the dead-letter store keeps them
    assert "<details>" in page


def test_dead_letters_page_back_by_id(client, analyst, rollback_database):
    store_rejections(rollback_database, *(f"line {n}".encode() for n in range(53)))
    first = client.get("/ingest/dead-letters").get_data(as_text=True)
    ids = letter_ids(first)
    assert len(ids) == 50
    target = html.unescape(re.search(r'href="([^"]+)" rel="next"', first).group(1))
    assert parse_qs(urlsplit(target).query) == {"before": [str(ids[-1])]}
    second = client.get(target).get_data(as_text=True)
    assert letter_ids(second) == [ids[-1] - 1, ids[-1] - 2, ids[-1] - 3]
    assert 'rel="next"' not in second


def test_no_dead_letters_is_said_plainly(client, analyst):
    assert "Er is niets afgewezen." in client.get("/ingest/dead-letters").get_data(as_text=True)


def test_a_bad_dead_letter_cursor_is_a_400_with_a_message(client, analyst, rollback_database):
    response = client.get("/ingest/dead-letters?before=x")
    assert response.status_code == 400
    assert "Die pagina bestaat niet." in response.get_data(as_text=True)
    assert audit_entries(rollback_database, "dead_letter.read") == []


def test_the_page_opened_bare_shows_the_last_24_hours_and_says_so(
    client, analyst, rollback_database
):
    ids = store_events(
        rollback_database,
        {"@timestamp": "2025-12-01T08:00:00Z", "message": "a month ago"},
        {"@timestamp": "2025-12-31T08:00:00Z", "message": "this morning"},
    )  # the clock says 2026-01-01 00:00

    page = client.get("/events").get_data(as_text=True)

    assert event_ids(page) == [ids[1]]
    assert 'id="since" name="since" type="text" value="now-24h"' in page
    assert "Toont de afgelopen 24 uur." in page
    assert 'href="/events?since=now-24h" aria-current="true"' in page
    everything = client.get("/events?since=").get_data(as_text=True)
    assert event_ids(everything) == ids[::-1]
    assert "Toont de afgelopen 24 uur." not in everything


def test_a_quiet_day_is_told_apart_from_an_empty_store(client, analyst, rollback_database):
    store_events(rollback_database, {"@timestamp": "2025-12-01T08:00:00Z", "message": "old"})

    page = client.get("/events").get_data(as_text=True)

    assert "Geen gebeurtenissen in de afgelopen 24 uur." in page
    assert 'href="/events?since="' in page
    assert "Er zijn nog geen gebeurtenissen opgeslagen." not in page
