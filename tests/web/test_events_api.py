"""``GET /api/v1/events``: search over HTTP with an ``events:read`` token.

Scopes, the JSON shape, paging with ``next``, 400s that say why, the audited read. Every
test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from access_control.tokens import Scope
from ingest.normalise import finish
from storage.events import append_events
from tests.support.accounts import enrolled_user, sign_in
from tests.support.admin import audit_entries
from tests.support.tokens import bearer, issue_token

SENT = datetime(2026, 1, 1, tzinfo=UTC)


def store(database, *documents):
    with database.unit_of_work() as session:
        append_events(
            session,
            [
                finish(dict(document), source="api-test", event_key=str(number), ingested=SENT)
                for number, document in enumerate(documents)
            ],
        )


@pytest.fixture
def reader(rollback_database, clock):
    _id, text = issue_token(rollback_database, clock, Scope.EVENTS_READ, name="siem-reader")
    return bearer(text)


def test_a_reader_token_gets_the_matching_events_as_stored(client, reader, rollback_database):
    hostile = "line\n2026-01-01 INFO forged\x1b[2J\u2028<script>"
    store(
        rollback_database,
        {"message": "Failed password", "user": {"name": "root"}},
        {"message": hostile, "user": {"name": "root"}, "source": {"port": 22}},
        {"message": "other", "user": {"name": "alice"}},
    )
    response = client.get("/api/v1/events", query_string={"q": "user.name:root"}, headers=reader)
    assert response.status_code == 200
    assert response.content_type == "application/json"
    body = response.get_json()
    assert set(body) == {"events", "next"}
    assert body["next"] is None
    newest, oldest = body["events"]
    assert newest["id"] > oldest["id"]
    assert newest["event"]["message"] == hostile
    assert newest["event"]["source"] == {"port": 22}
    assert newest["event"]["event"]["kind"] == "event"
    assert oldest["event"]["message"] == "Failed password"
    # Markup in events is data: the answer is JSON that browsers must not sniff as HTML.
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_pages_follow_the_next_cursor(client, reader, rollback_database):
    store(rollback_database, *({"message": f"m{number}"} for number in range(5)))
    seen, before = [], None
    while True:
        arguments = {"limit": "2", **({"before": before} if before else {})}
        body = client.get("/api/v1/events", query_string=arguments, headers=reader).get_json()
        assert len(body["events"]) <= 2
        seen.extend(event["event"]["message"] for event in body["events"])
        before = body["next"]
        if before is None:
            break
    assert seen == ["m4", "m3", "m2", "m1", "m0"]


def test_the_time_range_arguments_apply(client, reader, rollback_database):
    store(
        rollback_database,
        {"@timestamp": "2025-12-30T10:00:00Z", "message": "early"},
        {"@timestamp": "2025-12-31T10:00:00Z", "message": "late"},
    )
    body = client.get(
        "/api/v1/events", query_string={"since": "2025-12-31", "until": "now"}, headers=reader
    ).get_json()
    assert [event["event"]["message"] for event in body["events"]] == ["late"]


def test_every_search_is_audited_with_the_query_and_the_token(client, reader, rollback_database):
    store(rollback_database, {"message": "private detail", "user": {"name": "bob"}})
    client.get("/api/v1/events", query_string={"q": "user.name:bob"}, headers=reader)
    [read] = audit_entries(rollback_database, "event.read")
    assert (read.actor, read.target, read.outcome) == (
        "token:siem-reader",
        "event:search",
        "success",
    )
    assert json.loads(read.details)["query"] == "user.name:bob"
    assert "private detail" not in read.details


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"q": "user.name:roo~1"}, "Fuzzy search (~) is not supported (character 11)"),
        ({"q": "user.name:"}, "The query ends too early"),
        ({"q": "x:/a+/"}, "Regular expressions (/…/) are not supported (character 3)"),
        ({"q": "a:b:c"}, "A field cannot hold another field (character 3)"),
        ({"q": "x" * 2001}, "The query is longer than 2000 characters."),
        ({"since": "yesterday"}, "“yesterday” is not a time"),
        ({"limit": "0"}, "The limit must be a whole number from 1 to 500."),
        ({"limit": "many"}, "The limit must be a whole number from 1 to 500."),
        ({"limit": "-5"}, "The limit must be a whole number from 1 to 500."),
        ({"before": "1 OR 1=1"}, "That page does not exist."),
    ],
)
def test_a_bad_request_is_a_400_that_says_why(
    client, reader, rollback_database, arguments, message
):
    response = client.get(
        "/api/v1/events", query_string=arguments, headers={**reader, "Accept-Language": "en"}
    )
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_request"
    assert message in error["message"]
    assert audit_entries(rollback_database, "event.read") == []


def test_the_message_follows_the_readers_language(client, reader):
    response = client.get("/api/v1/events?q=a~", headers={**reader, "Accept-Language": "nl"})
    assert "Zoeken op gelijkenis (~) kan niet (teken 1)" in response.get_json()["error"]["message"]


def test_a_limit_above_the_cap_is_cut_to_five_hundred(client, reader, rollback_database):
    store(rollback_database, *({"message": "m"} for _ in range(501)))
    body = client.get("/api/v1/events?limit=100000", headers=reader).get_json()
    assert len(body["events"]) == 500
    assert body["next"].endswith(f"-{body['events'][-1]['id']}")
    rest = client.get(f"/api/v1/events?limit=100000&before={body['next']}", headers=reader)
    assert len(rest.get_json()["events"]) == 1
    assert rest.get_json()["next"] is None


def test_a_token_without_the_read_scope_is_refused(client, rollback_database, clock):
    _id, writer = issue_token(rollback_database, clock, Scope.EVENTS_WRITE)
    response = client.get("/api/v1/events", headers=bearer(writer))
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert audit_entries(rollback_database, "event.read") == []
    [denial] = audit_entries(rollback_database, "authz.denied")
    assert "events:read" in denial.details


def test_no_token_is_a_401_and_a_session_cookie_does_not_count(app, client, clock):
    assert client.get("/api/v1/events").status_code == 401
    sign_in(client, enrolled_user(app, role="soc_analyst"), clock)
    response = client.get("/api/v1/events")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_a_get_needs_no_csrf_token(client, reader):
    # The API blueprint is exempt from CSRF (no cookie credential); a GET never needed one.
    assert client.get("/api/v1/events", headers=reader).status_code == 200


def test_the_token_still_cannot_ingest_with_only_the_read_scope(client, reader):
    response = client.post("/api/v1/events", data=b'{"message": "x"}', headers=reader)
    assert response.status_code == 403
