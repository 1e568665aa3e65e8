"""``GET /api/v1/alerts`` (pull by cursor) and ``GET /api/v1/alerts/stream`` (server-sent
events) with an ``alerts:read`` token: the JSON shape, paging by cursor, 400s that say
why, scopes, the audited read, resuming a stream, and no clear personal identifier in
either. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest

from access_control.tokens import Scope
from incidents.feeds import changes
from tests.support.admin import audit_entries
from tests.support.incident_factories import make_alert
from tests.support.tokens import bearer, issue_token
from web.views import feeds_api

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
PEOPLE = '[["account", "J.Jansen"], ["email", "j.jansen@cjib.example"], ["ip", "192.0.2.7"]]'


@pytest.fixture
def reader(rollback_database, clock):
    _id, text = issue_token(rollback_database, clock, Scope.ALERTS_READ, name="siem")
    return bearer(text)


@pytest.fixture
def quick_streams(monkeypatch):
    monkeypatch.setattr(feeds_api, "STREAM_SECONDS", 0.3)
    monkeypatch.setattr(feeds_api, "POLL_SECONDS", 0.05)


def write(database, *severities: str) -> list[int]:
    with database.unit_of_work() as session:
        return [
            changes.record_alert_change(
                session,
                make_alert(session, severity=severity, entities=PEOPLE),
                change="created",
                now=NOW,
            ).id
            for severity in severities
        ]


def pull(client, headers, **arguments):
    return client.get("/api/v1/alerts", query_string=arguments, headers=headers)


def events(response) -> list[dict]:
    """The stream's events: id, event and data (parsed) of each, comments apart."""
    found = []
    for block in response.get_data(as_text=True).split("\n\n"):
        fields = dict(
            line.split(": ", 1)
            for line in block.splitlines()
            if ": " in line and not line.startswith(":")
        )
        if "data" in fields:
            found.append(
                {
                    "id": int(fields["id"]),
                    "event": fields["event"],
                    "data": json.loads(fields["data"]),
                }
            )
    return found


def test_the_feed_hands_out_documents_oldest_first_with_the_next_cursor(
    client, reader, rollback_database
):
    ids = write(rollback_database, "high", "low", "critical")
    response = pull(client, reader)
    assert response.status_code == 200
    assert response.content_type == "application/json"
    body = response.get_json()
    assert set(body) == {"data", "next_cursor"}
    assert [item["wachter"]["feed"]["id"] for item in body["data"]] == ids
    assert body["data"][0]["wachter"]["feed"]["change"] == "created"
    assert body["data"][0]["event"]["kind"] == "alert"
    assert body["data"][2]["wachter"]["alert"]["severity"] == "critical"
    assert body["next_cursor"] == str(ids[-1])


def test_following_the_cursor_gives_every_entry_once(client, reader, rollback_database):
    ids = write(rollback_database, *["medium"] * 5)
    seen, cursor = [], ""
    while True:
        body = pull(client, reader, after=cursor, limit="2").get_json()
        assert len(body["data"]) <= 2
        if not body["data"]:
            assert body["next_cursor"] == cursor  # nothing new: ask again with the same
            break
        seen.extend(item["wachter"]["feed"]["id"] for item in body["data"])
        cursor = body["next_cursor"]
    assert seen[-5:] == ids
    more = write(rollback_database, "high")
    assert [
        i["wachter"]["feed"]["id"] for i in pull(client, reader, after=cursor).get_json()["data"]
    ] == more


def test_the_limit_defaults_to_100(client, reader, rollback_database):
    ids = write(rollback_database, *["low"] * 101)
    body = pull(client, reader, after=str(ids[0] - 1)).get_json()
    assert len(body["data"]) == 100
    assert body["next_cursor"] == str(ids[99])


def test_min_severity_leaves_out_lower_alerts(client, reader, rollback_database):
    ids = write(rollback_database, "low", "high", "medium", "critical")
    body = pull(client, reader, min_severity="high").get_json()
    assert [item["wachter"]["feed"]["id"] for item in body["data"]] == [ids[1], ids[3]]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"limit": "0"}, "1 to 1000"),
        ({"limit": "1001"}, "1 to 1000"),
        ({"limit": "veel"}, "1 to 1000"),
        ({"limit": "-1"}, "1 to 1000"),
        ({"after": "-1"}, "cursor"),
        ({"after": "abc"}, "cursor"),
        ({"after": "1 OR 1=1"}, "cursor"),
        ({"min_severity": "urgent"}, "minimum severity"),
    ],
)
def test_bad_arguments_are_a_400_that_says_why(
    client, reader, rollback_database, arguments, message
):
    response = client.get(
        "/api/v1/alerts", query_string=arguments, headers={**reader, "Accept-Language": "en"}
    )
    assert response.status_code == 400
    assert message in response.get_json()["error"]["message"]
    assert audit_entries(rollback_database, "alert_feed.read") == []


def test_each_read_is_audited_with_the_token(client, reader, rollback_database):
    write(rollback_database, "high")
    pull(client, reader, limit="5")
    [entry] = audit_entries(rollback_database, "alert_feed.read")
    assert entry.actor == "token:siem"
    assert entry.target == "alert_feed:pull"
    assert json.loads(entry.details)["returned"] == 1


@pytest.mark.parametrize("path", ["/api/v1/alerts", "/api/v1/alerts/stream"])
def test_a_token_without_alerts_read_is_refused(client, clock, rollback_database, path):
    _id, text = issue_token(rollback_database, clock, Scope.EVENTS_WRITE, name="shipper")
    assert client.get(path, headers=bearer(text)).status_code == 403
    assert client.get(path).status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/alerts", "/api/v1/alerts/stream"])
def test_a_token_in_the_query_string_is_refused_even_with_a_valid_header(
    client, clock, rollback_database, path
):
    _id, text = issue_token(rollback_database, clock, Scope.ALERTS_READ, name="leaky")
    assert client.get(path, query_string={"access_token": text}).status_code == 401
    assert client.get(path, query_string={"after": text}, headers=bearer(text)).status_code == 401


def test_no_clear_personal_identifier_leaves_through_pull_or_stream(
    client, reader, rollback_database, quick_streams
):
    write(rollback_database, "high", "critical")
    pulled = pull(client, reader).get_data(as_text=True)
    streamed = client.get("/api/v1/alerts/stream", headers=reader).get_data(as_text=True)
    for output in (pulled, streamed):
        assert "jansen" not in output.lower()
        assert "psn-" in output
        assert "192.0.2.7" in output


def test_the_stream_sends_each_entry_as_an_event_and_resumes_after_the_last_id(
    client, reader, rollback_database, quick_streams
):
    ids = write(rollback_database, "high", "medium", "critical")
    response = client.get(
        "/api/v1/alerts/stream", headers=reader, query_string={"after": str(ids[0] - 1)}
    )
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert "no-store" in response.headers["Cache-Control"]
    assert response.get_data(as_text=True).startswith("retry: 3000\n\n")
    sent = events(response)
    assert [event["id"] for event in sent] == ids
    assert {event["event"] for event in sent} == {"alert"}
    assert [event["data"]["wachter"]["feed"]["id"] for event in sent] == ids

    later = write(rollback_database, "low")
    resumed = client.get("/api/v1/alerts/stream", headers={**reader, "Last-Event-ID": str(ids[1])})
    assert [event["id"] for event in events(resumed)] == [ids[2], *later]
    assert [
        event["id"]
        for event in events(
            client.get(
                "/api/v1/alerts/stream", headers=reader, query_string={"after": str(later[0])}
            )
        )
    ] == []


def test_the_stream_picks_up_entries_written_while_it_runs(
    client, reader, rollback_database, quick_streams, monkeypatch
):
    [first] = write(rollback_database, "high")
    written: list[int] = []

    def pause_and_write(seconds: float) -> None:  # between two polls of the running stream
        if not written:
            written.extend(write(rollback_database, "critical", "low"))

    monkeypatch.setattr(feeds_api, "pause", pause_and_write)
    response = client.get(
        "/api/v1/alerts/stream", headers=reader, query_string={"after": str(first - 1)}
    )
    assert [event["id"] for event in events(response)] == [first, *written]
    assert len(written) == 2


def test_a_quiet_stream_sends_heartbeats(client, reader, quick_streams, monkeypatch):
    monkeypatch.setattr(feeds_api, "HEARTBEAT_SECONDS", 0.1)
    text = client.get(
        "/api/v1/alerts/stream", headers=reader, query_string={"after": "999999999"}
    ).get_data(as_text=True)
    assert ": heartbeat\n\n" in text
    assert "data:" not in text


def test_a_bad_last_event_id_is_a_400(client, reader):
    response = client.get("/api/v1/alerts/stream", headers={**reader, "Last-Event-ID": "abc"})
    assert response.status_code == 400


def test_streams_beyond_the_limit_are_told_to_come_back_later(app, client, reader, quick_streams):
    slots = threading.BoundedSemaphore(1)
    app.extensions[feeds_api._SLOTS_KEY] = slots
    slots.acquire()
    response = client.get("/api/v1/alerts/stream", headers=reader)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "3"
    slots.release()
    with client.get("/api/v1/alerts/stream", headers=reader) as response:
        assert response.status_code == 200
        response.get_data()
    assert slots.acquire(blocking=False)  # the finished stream gave its slot back
