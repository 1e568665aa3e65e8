"""Generic JSON lines and Wachter's own authentication events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from access_control.auth_events import DATASET as AUTH_DATASET
from access_control.auth_events import as_ecs
from access_control.models import AuditEntry
from ingest.normalise import finish
from ingest.parsers.base import MAX_KEYWORD, ParseError
from ingest.parsers.json_lines import GENERIC, as_document, keyword
from ingest.parsers.wachter_audit import DATASET, PARSERS

AUDIT = PARSERS[0]
RECEIVED = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def generic(document):
    return GENERIC.parse_document(document, received=RECEIVED)


def store(document):
    return finish(document, source="test", event_key="1", ingested=RECEIVED)


def test_generic_json_keeps_every_field_and_names_its_dataset():
    document = {"message": "user alice logged in", "level": "info", "nested": {"a": [1, 2]}}
    parsed = generic(document)
    assert parsed["message"] == "user alice logged in"
    assert parsed["nested"] == {"a": [1, 2]}
    assert parsed["event"] == {"dataset": "generic.json"}


def test_a_dataset_the_sender_gives_is_kept():
    parsed = generic({"event": {"dataset": "nginx.access", "kind": "event"}})
    assert parsed["event"]["dataset"] == "nginx.access"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"@timestamp": "2024-05-01T08:00:00Z", "time": "x"}, "2024-05-01T08:00:00Z"),
        ({"timestamp": "2024-05-01T08:00:00+02:00", "ts": 1}, "2024-05-01T08:00:00+02:00"),
        ({"time": 1714550400, "date": "2020-01-01"}, 1714550400),
        ({"ts": "1714550400.5"}, "1714550400.5"),
        ({"date": "2024-05-01"}, "2024-05-01"),
        ({"timestamp": None, "date": "2024-05-02"}, "2024-05-02"),
    ],
)
def test_the_event_time_is_the_first_time_field_present(document, expected):
    parsed = generic(document)
    assert parsed["@timestamp"] == expected
    for name, value in document.items():
        assert parsed[name] == value  # the original stays too


def test_the_stored_time_is_utc_from_the_time_field():
    record = store(generic({"time": "2024-05-01T08:00:00+02:00", "message": "x"}))
    assert record.timestamp == datetime(2024, 5, 1, 6, 0, tzinfo=UTC)


def test_a_time_number_too_large_to_be_a_time_is_refused():
    with pytest.raises(ParseError, match="too large to be a time"):
        generic({"ts": 10**40})


def test_a_fluent_bit_log_field_becomes_the_message():
    assert generic({"log": "GET / 200"})["message"] == "GET / 200"
    assert generic({"log": "a", "message": "b"})["message"] == "b"


def test_a_sender_cannot_set_wachter_quality_flags():
    parsed = generic({"message": "x", "wachter": {"flags": ["clock_skew"]}})
    record = store(parsed)
    assert record.flags == "timestamp_missing"
    assert json.loads(record.document)["labels"]["wachter"] == {"flags": ["clock_skew"]}


def test_a_sender_field_called_event_that_is_text_moves_to_labels():
    parsed = generic({"event": "user logged in", "labels": {"team": "soc"}})
    assert parsed["event"] == {"dataset": "generic.json"}
    assert parsed["labels"] == {"team": "soc", "event": "user logged in"}


def test_the_callers_document_is_not_changed():
    document = {"event": {"kind": "event"}, "labels": {"a": "b"}}
    store(generic(document))
    assert document == {"event": {"kind": "event"}, "labels": {"a": "b"}}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([1, 2], "expected a JSON object, got an array"),
        ("text", "expected a JSON object, got a string"),
        (None, "expected a JSON object, got null"),
        (True, "expected a JSON object, got a boolean"),
        (4.5, "expected a JSON object, got a number"),
    ],
)
def test_json_that_is_not_an_object_is_not_a_document(value, message):
    with pytest.raises(ParseError, match=message):
        as_document(value)


def test_a_json_object_is_a_document():
    assert as_document({"a": 1}) == {"a": 1}


def _audit_entry(**overrides):
    fields = {
        "id": 17,
        "occurred_at": datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
        "actor": "user:alice",
        "action": "auth.login.failure",
        "target": "user:alice",
        "outcome": "failure",
        "ip": "192.0.2.10",
        "user_agent": "Mozilla/5.0",
        "details": '{"reason": "bad password"}',
        "previous_hash": "0" * 64,
        "entry_hash": "1" * 64,
    }
    return AuditEntry(**{**fields, **overrides})


def test_the_dataset_is_the_one_access_control_writes():
    assert DATASET == AUTH_DATASET


def test_wachters_own_auth_events_are_detected_and_pass_through():
    document = as_ecs(_audit_entry())
    assert AUDIT.detect_document(document)
    parsed = AUDIT.parse_document(document, received=RECEIVED)
    assert parsed == document
    record = store(parsed)
    assert (record.dataset, record.user_name, record.outcome) == (
        "wachter.auth",
        "alice",
        "failure",
    )
    assert record.source_ip == "192.0.2.10"
    assert record.timestamp == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def test_storing_an_auth_event_leaves_the_callers_document_alone():
    document = as_ecs(_audit_entry(action="auth.login.success", outcome="success"))
    before = json.dumps(document, sort_keys=True)
    store(AUDIT.parse_document(document, received=RECEIVED))
    assert json.dumps(document, sort_keys=True) == before


def test_account_changes_from_wachters_own_feed_pass_through():
    entry = _audit_entry(action="user.created", outcome="success", target="user:bob")
    document = as_ecs(entry)
    assert "iam" in document["event"]["category"]
    assert AUDIT.parse_document(document, received=RECEIVED) == document


def test_other_documents_are_not_claimed_as_wachter_events():
    assert not AUDIT.detect_document({"event": {"dataset": "generic.json"}})
    assert not AUDIT.detect_document({"event": "wachter.auth"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("@timestamp"), "needs @timestamp"),
        (lambda d: d["event"].update(action=""), "event.action"),
        (lambda d: d["event"].update(outcome="denied"), "event.outcome"),
        (lambda d: d["event"].update(category="authentication"), "event.category"),
        (lambda d: d["event"].update(category=["network"]), "authentication or iam"),
        (lambda d: d.update(user="alice"), "user must be an object"),
        (lambda d: d["source"].update(ip="999.1.1.1"), "source.ip"),
        (lambda d: d["wachter"].update(flags=[]), "wachter may only hold"),
        (lambda d: d["event"].update(dataset="other"), "not a Wachter authentication event"),
    ],
)
def test_a_document_that_claims_to_be_ours_but_is_not_well_formed_is_refused(change, message):
    document = as_ecs(_audit_entry())
    change(document)
    with pytest.raises(ParseError, match=message):
        AUDIT.parse_document(document, received=RECEIVED)


def test_the_keyword_limit_is_the_one_finish_enforces():
    assert keyword("a" * MAX_KEYWORD) == "a" * MAX_KEYWORD
    assert keyword("a" * (MAX_KEYWORD + 1)) is None
    assert keyword(5) is None
