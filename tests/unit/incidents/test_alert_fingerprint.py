"""Fingerprints, key entities and entities of detections, and reading fields of events
(no database: plain documents in, values out)."""

from __future__ import annotations

from incidents.alerts.fields import field_values
from incidents.alerts.fingerprint import (
    MAX_ENTITIES,
    entities_of,
    fingerprint,
    group_texts,
    key_entity,
)
from incidents.alerts.severity import higher, rank, severity_from_level
from incidents.entities import EntityKind


def test_fields_are_read_nested_dotted_and_from_lists():
    document = {
        "source": {"ip": "192.0.2.1"},
        "user.name": "alice",
        "related": {"ip": ["192.0.2.1", "198.51.100.2", {"no": "object"}, True]},
        "host": {"name": None},
    }
    assert field_values(document, "source.ip") == ["192.0.2.1"]
    assert field_values(document, "user.name") == ["alice"]
    assert field_values(document, "related.ip") == ["192.0.2.1", "198.51.100.2"]
    assert field_values(document, "host.name") == []
    assert field_values(document, "missing.field") == []


def test_the_same_group_is_the_same_fingerprint_whatever_the_order():
    first = fingerprint("rule-a", {"user.name": "alice", "host.name": "pc1"}, None)
    second = fingerprint("rule-a", {"host.name": "pc1", "user.name": "alice"}, None)
    assert first == second
    assert first != fingerprint("rule-a", {"user.name": "bob", "host.name": "pc1"}, None)
    assert first != fingerprint("rule-b", {"user.name": "alice", "host.name": "pc1"}, None)


def test_the_key_entity_is_source_ip_before_user_before_host():
    event = {"host": {"name": "PC1"}, "user": {"name": "Alice"}, "source": {"ip": "192.0.2.1"}}
    assert key_entity(event) == (EntityKind.IP, "192.0.2.1")
    assert key_entity({"host": {"name": "PC1"}, "user": {"name": "Alice"}}) == (
        EntityKind.ACCOUNT,
        "alice",
    )
    assert key_entity({"host": {"name": "PC1"}}) == (EntityKind.HOST, "pc1")
    assert key_entity({"message": "nothing"}) is None
    assert key_entity(None) is None


def test_an_invalid_key_value_is_passed_over_for_the_next_field():
    assert key_entity({"source": {"ip": "999.1.1.1"}, "user": {"name": "bob"}}) == (
        EntityKind.ACCOUNT,
        "bob",
    )


def test_single_event_fingerprints_follow_the_normalised_key_entity():
    upper = fingerprint("r", None, key_entity({"user": {"name": "ALICE"}}))
    lower = fingerprint("r", None, key_entity({"user": {"name": "alice"}}))
    assert upper == lower
    assert upper != fingerprint("r", None, None)  # the rule alone is its own fingerprint
    assert fingerprint("r", None, None) == fingerprint("r", None, None)
    assert fingerprint("r", {}, None) != fingerprint("r", None, None)


def test_entities_come_from_the_group_and_every_event_once_each():
    events = [
        {"source": {"ip": "192.0.2.1"}, "user": {"name": "Alice"}},
        {"source": {"ip": "192.0.2.1"}, "host": {"name": "PC1"}, "user": {"email": "A@x.nl"}},
        {"source": {"ip": "not-an-ip"}},
    ]
    found = entities_of(events, {"user.name": "alice", "Computer": "ignored"})
    assert found == [
        (EntityKind.ACCOUNT, "alice"),
        (EntityKind.IP, "192.0.2.1"),
        (EntityKind.HOST, "pc1"),
        (EntityKind.EMAIL, "a@x.nl"),
    ]


def test_entities_are_capped():
    events = [{"source": {"ip": f"10.0.{n // 256}.{n % 256}"}} for n in range(MAX_ENTITIES + 50)]
    assert len(entities_of(events, None)) == MAX_ENTITIES


def test_group_values_become_text():
    assert group_texts({"user.name": "alice", "count": 3}) == {"user.name": "alice", "count": "3"}
    assert group_texts(None) is None


def test_severity_starts_from_the_sigma_level_and_only_goes_up():
    assert severity_from_level("critical") == "critical"
    assert severity_from_level("High") == "high"
    assert severity_from_level(None) == "medium"
    assert severity_from_level("urgent") == "medium"
    assert rank("informational") < rank("low") < rank("medium") < rank("high") < rank("critical")
    assert higher("high", "low") == "high"
    assert higher("low", "critical") == "critical"
