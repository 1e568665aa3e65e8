"""POST /api/v1/events: batches in, 202 after commit, every bad item rejected with a reason."""

from __future__ import annotations

import dataclasses
import gzip
import json

import orjson
import pytest
from sqlalchemy import func, select

from access_control.tokens import Scope
from ingest.models import DeadLetter
from storage.events import Event
from tests.support.tokens import bearer, issue_token
from web import create_app
from web.slots import thread_share

URL = "/api/v1/events"


@pytest.fixture
def token(rollback_database, clock):
    return issue_token(rollback_database, clock)[1]


def ndjson(*documents) -> bytes:
    return b"\n".join(orjson.dumps(document) for document in documents) + b"\n"


def post(client, token, body, *, content_type="application/x-ndjson", query="", **headers):
    return client.post(
        URL + query,
        data=body,
        headers={**bearer(token), "Accept-Language": "en", **headers},
        content_type=content_type,
    )


def stored(db_session):
    return [event.data for event in db_session.scalars(select(Event).order_by(Event.id))]


def login_event(number, **fields):
    return {
        "@timestamp": f"2025-12-31T10:00:0{number}Z",
        "event": {"category": ["authentication"], "outcome": "failure"},
        "user": {"name": f"user{number}"},
        "source": {"ip": "192.0.2.10"},
        **fields,
    }


def test_an_ndjson_batch_is_stored_and_acknowledged_with_counts(client, token, db_session, clock):
    response = post(client, token, ndjson(login_event(1), login_event(2), login_event(3)))

    assert response.status_code == 202
    assert response.get_json() == {"accepted": 3, "duplicates": 0, "rejected": []}
    events = stored(db_session)
    assert [event["user"]["name"] for event in events] == ["user1", "user2", "user3"]
    assert events[0]["@timestamp"] == "2025-12-31T10:00:01Z"
    assert events[0]["event"]["ingested"] == clock.now().isoformat().replace("+00:00", "Z")
    row = db_session.scalars(select(Event)).first()
    assert (row.user_name, row.source_ip, row.outcome) == ("user1", "192.0.2.10", "failure")


def test_a_json_array_and_a_gzip_body_are_accepted(client, token, db_session):
    array = json.dumps([login_event(1), login_event(2)]).encode()
    assert post(client, token, array, content_type="application/json").status_code == 202
    compressed = gzip.compress(ndjson(login_event(3)))
    response = post(client, token, compressed, **{"Content-Encoding": "gzip"})

    assert response.get_json()["accepted"] == 1
    assert len(stored(db_session)) == 3


def test_a_resent_batch_stores_nothing_twice(client, token, db_session):
    body = ndjson(login_event(1), login_event(2))
    post(client, token, body)
    again = post(client, token, body)

    assert again.get_json() == {"accepted": 2, "duplicates": 2, "rejected": []}
    assert len(stored(db_session)) == 2


def test_the_senders_event_id_makes_a_changed_resend_a_duplicate(client, token, db_session):
    post(client, token, ndjson(login_event(1, event={"id": "evt-42"})))
    again = post(client, token, ndjson(login_event(2, event={"id": "evt-42"})))

    assert again.get_json()["duplicates"] == 1
    assert [event["user"]["name"] for event in stored(db_session)] == ["user1"]


def test_the_same_event_from_two_tokens_is_two_events(client, rollback_database, clock, db_session):
    first = issue_token(rollback_database, clock, name="dc1")[1]
    second = issue_token(rollback_database, clock, name="dc2")[1]
    body = ndjson(login_event(1, event={"id": "same"}))
    post(client, first, body)
    post(client, second, body)

    assert len(stored(db_session)) == 2


def test_bad_items_are_rejected_by_index_and_the_rest_is_stored(client, token, db_session):
    body = b"\n".join(
        [
            orjson.dumps(login_event(1)),
            b'{"broken": ',
            b"[1, 2]",
            b'{"big": 1e400}',
            b"[" * 2000 + b"]" * 2000,
            b'{"name": "\xff\xfe"}',
            b'"just a string"',
            orjson.dumps(login_event(2)),
        ]
    )
    response = post(client, token, body)

    answer = response.get_json()
    assert response.status_code == 202
    assert answer["accepted"] == 2
    reasons = {item["index"]: item["error"] for item in answer["rejected"]}
    assert sorted(reasons) == [1, 2, 3, 4, 5, 6]
    assert reasons[2] == "expected a JSON object, got an array"
    assert reasons[6] == "expected a JSON object, got a string"
    assert all(
        reason.startswith("not valid JSON") for i, reason in reasons.items() if i != 2 and i != 6
    )
    letters = db_session.scalars(select(DeadLetter).order_by(DeadLetter.id)).all()
    assert [letter.reason for letter in letters] == [reasons[i] for i in sorted(reasons)]
    assert {letter.receiver for letter in letters} == {"http"}
    assert letters[4].raw == '{"name": "\\xff\\xfe"}'  # undecodable bytes shown, not lost


def test_an_item_over_the_size_limit_is_rejected_alone(client, token, db_session):
    huge = orjson.dumps({"message": "x" * (300 * 1024)})
    response = post(client, token, ndjson(login_event(1)) + huge + b"\n")

    assert response.get_json()["rejected"] == [{"index": 1, "error": "event larger than 256 KiB"}]
    letter = db_session.scalars(select(DeadLetter)).one()
    assert letter.raw_size == len(huge)
    assert len(letter.raw) == 8 * 1024  # kept cut, the size tells how large it was


def test_the_refusal_speaks_dutch_by_default(client, token):
    response = client.post(
        URL, data=b"[oops", headers=bearer(token), content_type="application/json"
    )

    assert response.get_json()["error"]["message"].startswith(
        "De inhoud is geen reeks gebeurtenissen"
    )


def test_a_body_that_is_no_batch_is_refused_whole(client, token, db_session):
    response = post(client, token, b'[{"a": 1}, oops', content_type="application/json")

    assert response.status_code == 400
    assert "not a batch of events" in response.get_json()["error"]["message"]
    assert stored(db_session) == []


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"x" * (10 * 1024 * 1024 + 1), {}, 413),
        (gzip.compress(b"\n" * (65 * 1024 * 1024)), {"Content-Encoding": "gzip"}, 413),
        (b"not gzip at all", {"Content-Encoding": "gzip"}, 400),
        (gzip.compress(b'{"a": 1}\n')[:-12], {"Content-Encoding": "gzip"}, 400),
        (b'{"a": 1}', {"Content-Encoding": "br"}, 415),
    ],
    ids=["too-large", "gzip-bomb", "bad-gzip", "cut-gzip", "unknown-encoding"],
)
def test_oversize_and_undecodable_bodies_are_refused(
    client, token, db_session, body, headers, status
):
    response = post(client, token, body, **headers)

    assert response.status_code == status
    assert response.get_json()["error"]["status"] == status
    assert stored(db_session) == []


def test_a_form_post_is_not_an_event_batch(client, token):
    response = post(client, token, b"a=1", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415


def test_a_token_needs_the_events_write_scope(client, rollback_database, clock, db_session):
    reader = issue_token(rollback_database, clock, Scope.ALERTS_READ)[1]

    assert post(client, reader, ndjson(login_event(1))).status_code == 403
    assert client.post(URL, data=ndjson(login_event(1))).status_code == 401
    assert stored(db_session) == []


@pytest.fixture
def limited_client(settings, rollback_database, clock):
    app = create_app(
        dataclasses.replace(settings, ingest_rate_limit=5), database=rollback_database, clock=clock
    )
    return app.test_client()


def test_a_flooding_token_gets_429_and_other_tokens_do_not(
    limited_client, rollback_database, clock, db_session
):
    flooder = issue_token(rollback_database, clock, name="flood")[1]
    other = issue_token(rollback_database, clock, name="quiet")[1]
    burst = ndjson(*(login_event(n % 10, event={"id": f"b{n}"}) for n in range(10)))
    assert post(limited_client, flooder, burst).status_code == 202

    refused = post(limited_client, flooder, ndjson(login_event(1, event={"id": "late"})))

    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 2
    assert post(limited_client, other, ndjson(login_event(2))).status_code == 202
    assert len(stored(db_session)) == 11


def test_ingest_past_its_share_of_the_threads_is_told_to_come_back(
    settings, rollback_database, clock, db_session
):
    # Two threads (a quarter of eight) may ingest at once; a third request is refused at
    # once, so the other threads stay free for the console under overload.
    app = create_app(
        dataclasses.replace(settings, http_threads=8), database=rollback_database, clock=clock
    )
    client, token = app.test_client(), issue_token(rollback_database, clock)[1]
    with app.app_context():
        slots = thread_share("wachter.ingest_slots", 2)
    assert post(client, token, ndjson(login_event(1))).status_code == 202  # made its share
    busy = [slots.acquire(blocking=False) for _ in range(2)]  # two batches being stored
    assert busy == [True, True]
    try:
        refused = post(client, token, ndjson(login_event(2)))
    finally:
        slots.release()
        slots.release()

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert len(stored(db_session)) == 1  # nothing of the refused batch
    assert post(client, token, ndjson(login_event(2))).status_code == 202


def test_a_batch_larger_than_the_burst_is_told_the_limit(limited_client, rollback_database, clock):
    token = issue_token(rollback_database, clock)[1]
    body = ndjson(*(login_event(n % 10, event={"id": f"n{n}"}) for n in range(11)))

    response = post(limited_client, token, body)

    assert response.status_code == 400
    assert "at most 10 events per request" in response.get_json()["error"]["message"]


def test_a_named_format_parses_the_message_field(client, token, db_session):
    line = "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186"
    response = post(
        client, token, ndjson({"message": line, "shipper": "fluent-bit"}), query="?format=syslog"
    )

    assert response.get_json()["accepted"] == 1
    event = stored(db_session)[0]
    assert event["event"]["original"] == line
    assert event["shipper"] == "fluent-bit"


def test_an_unknown_format_is_refused_with_the_choices(client, token):
    response = post(client, token, ndjson(login_event(1)), query="?format=nope")

    assert response.status_code == 400
    assert "Unknown format" in response.get_json()["error"]["message"]
    assert "json" in response.get_json()["error"]["message"]


@pytest.mark.parametrize(
    ("claimed", "flag", "stored_time"),
    [
        ("9999-12-31T23:59:59Z", "clock_skew", "9999-12-31T23:59:59Z"),
        ("1970-01-01T00:00:00Z", "clock_skew", "1970-01-01T00:00:00Z"),
        ("2025-11-29T10:00:00", "timezone_assumed", "2025-11-29T10:00:00Z"),
        ("2016-12-31T23:59:60Z", None, "2016-12-31T23:59:59.999999Z"),
        ("yesterday-ish", "timestamp_invalid", None),
    ],
)
def test_time_skewed_events_are_stored_with_a_flag(
    client, token, db_session, clock, claimed, flag, stored_time
):
    post(client, token, ndjson({"@timestamp": claimed, "message": "m"}))

    event = stored(db_session)[0]
    expected_time = stored_time or clock.now().isoformat().replace("+00:00", "Z")
    assert event["@timestamp"] == expected_time
    assert (flag in event.get("wachter", {}).get("flags", [])) if flag else "wachter" not in event


def test_an_unreadable_time_is_kept_beside_the_arrival_time(client, token, db_session):
    post(client, token, ndjson({"@timestamp": "yesterday-ish", "message": "m"}))

    assert stored(db_session)[0]["wachter"]["original_timestamp"] == "yesterday-ish"


def test_log_injection_content_is_stored_verbatim_as_one_event(client, token, db_session):
    hostile = "ok\n2026-01-01 INFO user=admin login ok\r\x1b[2J\x00\u2028\u202e"
    response = post(client, token, ndjson({"message": hostile}))

    assert response.get_json()["accepted"] == 1
    assert stored(db_session)[0]["message"] == hostile
    assert db_session.scalar(select(func.count()).select_from(Event)) == 1


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"source": {"ip": "999.1.1.1"}}, "source.ip is not an IP address"),
        ({"source": {"ip": "fe80::1%eth0"}}, "source.ip is not an IP address"),
        ({"host": {"ip": ["192.0.2.1", "nope"]}}, "host.ip is not an IP address"),
        (
            {"event": {"severity": "critical'; DROP TABLE event; --"}},
            "event.severity must be a whole number",
        ),
        ({"event": {"outcome": "maybe"}}, "event.outcome must be success, failure or unknown"),
        ({"host": {"name": "h" * 100_000}}, "host.name is longer than 1024 characters"),
    ],
    ids=["bad-ipv4", "ipv6-zone", "ip-list", "severity-injection", "unknown-outcome", "huge-host"],
)
def test_fields_ecs_types_strictly_are_validated_per_item(
    client, token, db_session, document, reason
):
    response = post(client, token, ndjson(document, login_event(1)))

    assert response.status_code == 202
    assert response.get_json()["rejected"] == [{"index": 0, "error": reason}]
    assert len(stored(db_session)) == 1


def test_senders_cannot_write_wachters_own_fields(client, token, db_session):
    forged = {
        "message": "m",
        "wachter": {"flags": [], "logsource": {"product": "wachter", "service": "auth"}},
    }
    post(client, token, ndjson(forged))

    event = stored(db_session)[0]
    assert "logsource" not in event.get("wachter", {})
    assert event["labels"]["wachter"]["logsource"]["service"] == "auth"  # kept, but inert


def test_an_ndjson_line_that_is_an_array_is_rejected_not_read_as_a_batch(client, token, db_session):
    response = post(client, token, b"[]\n" + ndjson(login_event(1)))

    assert response.get_json()["rejected"] == [
        {"index": 0, "error": "expected a JSON object, got an array"}
    ]
    assert len(stored(db_session)) == 1


def test_one_pretty_printed_json_object_is_one_event(client, token, db_session):
    body = json.dumps(login_event(1), indent=2).encode()
    response = post(client, token, body, content_type="application/json")

    assert response.get_json()["accepted"] == 1
    assert stored(db_session)[0]["user"]["name"] == "user1"


def test_an_outcome_of_the_wrong_type_is_refused_not_a_crash(client, token):
    response = post(client, token, ndjson({"event": {"outcome": []}}, {"event": {"outcome": {}}}))

    assert [item["index"] for item in response.get_json()["rejected"]] == [0, 1]
