"""The ECS alert document every feed sends: field names, ATT&CK from tags, and people only
as pseudonyms (no database: an alert object and a pseudonymiser with a fixed key)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from incidents.alerts.models import Alert
from incidents.entities import EntityKind
from incidents.feeds.documents import alert_document, threat_fields
from incidents.feeds.pseudonyms import Pseudonymiser

SEEN = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
KEY = b"k" * 32
PEOPLE = [
    ("account", "J.Jansen"),
    ("email", "jan.jansen@cjib.example"),
    ("phone", "+31 6 1234 5678"),
    ("case_reference", "cjib-2026-000123"),
    ("person_pseudonym", "vault-person-77"),
]


def alert(**overrides) -> Alert:
    values = {
        "id": 42,
        "fingerprint": "f" * 64,
        "rule_key": "7c1d0e2f-0000-4000-8000-000000000001",
        "rule_version": 3,
        "title": "Many failed sign-ins",
        "rule_level": "high",
        "severity": "high",
        "status": "acknowledged",
        "resolution": None,
        "resolution_note": "Spoke with J.Jansen on the phone",
        "count": 5,
        "first_seen": SEEN,
        "last_seen": SEEN.replace(minute=7),
        "group_values": orjson.dumps({"user.name": "J.Jansen"}).decode(),
        "entities": orjson.dumps(
            [["ip", "192.0.2.7"], ["host", "ws-017.cjib.local"], *PEOPLE, ["ip", "2001:db8::1"]]
        ).decode(),
        "tags": orjson.dumps(
            ["attack.credential_access", "attack.t1110.003", "attack.t1078", "cjib.staff"]
        ).decode(),
        "incident_id": 9,
        "created_at": SEEN,
        "updated_at": SEEN.replace(minute=8),
        "version": 4,
    }
    values.update(overrides)
    return Alert(**values)


def test_the_document_has_the_ecs_alert_fields():
    document = alert_document(alert(), Pseudonymiser(KEY))
    assert document["@timestamp"] == "2026-03-02T10:07:00Z"
    assert document["event"] == {
        "kind": "alert",
        "id": "wachter-alert-42",
        "module": "wachter",
        "dataset": "wachter.alerts",
        "severity": 73,
        "risk_score": 73.0,
        "created": "2026-03-02T10:00:00Z",
        "start": "2026-03-02T10:00:00Z",
        "end": "2026-03-02T10:07:00Z",
    }
    assert document["rule"] == {
        "id": "7c1d0e2f-0000-4000-8000-000000000001",
        "name": "Many failed sign-ins",
        "version": "3",
        "ruleset": "wachter",
    }
    assert document["source"] == {"ip": "192.0.2.7"}
    assert document["host"] == {"name": "ws-017.cjib.local"}
    assert document["related"]["ip"] == ["192.0.2.7", "2001:db8::1"]
    assert document["related"]["hosts"] == ["ws-017.cjib.local"]
    assert document["tags"] == [
        "attack.credential_access",
        "attack.t1110.003",
        "attack.t1078",
        "cjib.staff",
    ]


def test_the_alert_state_and_its_console_path_are_under_wachter_alert():
    state = alert_document(alert(), Pseudonymiser(KEY))["wachter"]["alert"]
    assert state == {
        "id": 42,
        "version": 4,
        "status": "acknowledged",
        "resolution": None,
        "severity": "high",
        "count": 5,
        "fingerprint": "f" * 64,
        "incident_id": 9,
        "updated": "2026-03-02T10:08:00Z",
        "path": "/alerts/42",
    }


def test_attack_tags_become_ecs_threat_fields_with_tactics_by_name():
    threat = threat_fields(
        ["attack.credential_access", "attack.t1110.003", "attack.T1078", "attack.initial-access"]
    )
    assert threat["framework"] == "MITRE ATT&CK"
    assert threat["tactic"]["id"] == ["TA0006", "TA0001"]
    assert threat["tactic"]["name"] == ["Credential Access", "Initial Access"]
    assert threat["tactic"]["reference"][0] == "https://attack.mitre.org/tactics/TA0006/"
    assert threat["technique"]["id"] == ["T1078", "T1110"]
    assert threat["technique"]["subtechnique"]["id"] == ["T1110.003"]
    assert threat["technique"]["subtechnique"]["reference"] == [
        "https://attack.mitre.org/techniques/T1110/003/"
    ]


def test_a_tactic_tag_written_as_its_id_counts_too():
    assert threat_fields(["attack.ta0008"])["tactic"]["name"] == ["Lateral Movement"]


@pytest.mark.parametrize("tags", [[], ["cjib.staff", "attack.unknown_tactic", "attack.g0016"]])
def test_a_rule_without_attack_tags_has_no_threat_fields(tags):
    assert threat_fields(tags) == {}
    assert "threat" not in alert_document(
        alert(tags=orjson.dumps(tags).decode()), Pseudonymiser(KEY)
    )


def test_people_appear_only_as_pseudonyms_and_free_text_is_left_out():
    document = alert_document(alert(), Pseudonymiser(KEY))
    text = orjson.dumps(document).decode().lower()
    for _kind, value in PEOPLE:
        assert value.lower() not in text
    for fragment in ("jansen", "1234 5678", "612345678", "000123", "vault-person"):
        assert fragment not in text
    assert "spoke with" not in text  # the resolution note
    assert document["user"]["name"].startswith("psn-")
    assert len(document["related"]["user"]) == len(PEOPLE)
    assert all(value.startswith("psn-") for value in document["related"]["user"])


def test_a_pseudonym_is_stable_across_spellings_and_differs_by_key_and_kind():
    pseudonyms = Pseudonymiser(KEY)
    same = pseudonyms.pseudonym(EntityKind.ACCOUNT, "J.Jansen")
    assert pseudonyms.pseudonym(EntityKind.ACCOUNT, " j.jansen ") == same
    assert Pseudonymiser(b"o" * 32).pseudonym(EntityKind.ACCOUNT, "J.Jansen") != same
    assert pseudonyms.pseudonym(EntityKind.EMAIL, "J.Jansen") != same
    phone = pseudonyms.pseudonym(EntityKind.PHONE, "+31 6 1234 5678")
    assert pseudonyms.pseudonym(EntityKind.PHONE, "+31612345678") == phone


def test_ip_addresses_and_hosts_stay_readable_for_the_soc():
    document = alert_document(alert(), Pseudonymiser(KEY))
    assert "192.0.2.7" in document["related"]["ip"]
    assert document["host"]["name"] == "ws-017.cjib.local"
