"""STIX 2.1 bundles of alert IP addresses: valid STIX (``stix2.parse`` round trip), stable
ids across exports, IPv4 and IPv6 patterns, no people at all, dismissed alerts left out,
and the time range rules.

The bundle is read from stored alerts, so these tests take ``db_session`` (SQLite and
PostgreSQL) though they sit with the unit tests of the format.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
import stix2

from core import InvalidInput
from incidents.alerts.models import AlertEntity
from incidents.entities import normalise
from incidents.feeds import stix
from tests.support.incident_factories import make_alert

DAY = datetime(2026, 3, 2, tzinfo=UTC)
PEOPLE = [
    ("account", "Alice.Jansen"),
    ("email", "alice.jansen@example.nl"),
    ("phone", "+31612345678"),
    ("case_reference", "CJIB-2026-0042"),
    ("person_pseudonym", "psn-personvault01"),
]


def alert_with(session, *entities, seen=DAY, **overrides):
    """An alert whose entities are ``entities``, indexed as the alert service does it."""
    alert = make_alert(
        session,
        entities=orjson.dumps([list(entity) for entity in entities]).decode(),
        first_seen=overrides.pop("first_seen", seen),
        last_seen=overrides.pop("last_seen", seen + timedelta(minutes=5)),
        created_at=seen,
        updated_at=overrides.pop("updated_at", seen + timedelta(minutes=5)),
        **overrides,
    )
    for kind, value in entities:
        try:
            normalised = normalise(kind, value)
        except InvalidInput:
            continue
        session.add(AlertEntity(alert_id=alert.id, kind=kind, value=normalised))
    session.flush()
    return alert


def export(session, since=DAY - timedelta(hours=1), until=DAY + timedelta(days=1)):
    return stix.alerts_bundle(session, since=since, until=until)


def objects_of(bundle, kind):
    return [stix_object for stix_object in bundle.objects if stix_object.type == kind]


def test_a_bundle_is_valid_stix_that_parses_back_with_identity_indicator_and_sighting(
    db_session,
):
    alert = alert_with(
        db_session, ("ip", "203.0.113.7"), tags='["attack.t1110", "attack.credential_access"]'
    )
    alert.count = 12
    bundle = export(db_session)
    parsed = stix2.parse(bundle.serialize(pretty=False), allow_custom=False)
    assert isinstance(parsed, stix2.v21.Bundle)
    [identity] = objects_of(parsed, "identity")
    [indicator] = objects_of(parsed, "indicator")
    [sighting] = objects_of(parsed, "sighting")
    assert (identity.name, identity.identity_class) == ("Wachter", "organization")
    assert indicator.pattern == "[ipv4-addr:value = '203.0.113.7']"
    assert indicator.pattern_type == "stix"
    assert indicator.indicator_types == ["anomalous-activity"]
    assert indicator.labels == ["attack.credential_access", "attack.t1110"]
    assert indicator.valid_from == DAY
    assert indicator.created_by_ref == identity.id
    assert sighting.sighting_of_ref == indicator.id
    assert sighting.where_sighted_refs == [identity.id]
    assert (sighting.first_seen, sighting.last_seen) == (DAY, DAY + timedelta(minutes=5))
    assert sighting.count == 12
    assert sighting.external_references[0].external_id == f"wachter-alert-{alert.id}"


def test_an_ipv6_address_gets_an_ipv6_pattern_in_its_normal_form(db_session):
    alert_with(db_session, ("ip", "2001:DB8:0:0::7"))
    [indicator] = objects_of(export(db_session), "indicator")
    assert indicator.pattern == "[ipv6-addr:value = '2001:db8::7']"
    stix2.parse(indicator.serialize())


def test_ids_are_the_same_in_every_export_so_a_platform_updates_instead_of_copying(
    db_session,
):
    alert_with(db_session, ("ip", "203.0.113.7"), ("ip", "198.51.100.1"))
    alert_with(db_session, ("ip", "203.0.113.7"), seen=DAY + timedelta(hours=3))
    first, second = export(db_session), export(db_session)
    assert first.id != second.id  # a bundle is only an envelope
    assert [o.id for o in first.objects] == [o.id for o in second.objects]
    assert [o.serialize() for o in first.objects] == [o.serialize() for o in second.objects]
    indicator_ids = {o.id for o in objects_of(first, "indicator")}
    assert len(indicator_ids) == 2
    assert len(objects_of(first, "sighting")) == 3


def test_an_indicator_is_the_same_whichever_range_is_exported(db_session):
    alert_with(db_session, ("ip", "203.0.113.7"), seen=DAY - timedelta(days=10))
    alert_with(db_session, ("ip", "203.0.113.7"), seen=DAY, tags='["attack.t1110"]')
    narrow = export(db_session)
    wide = export(db_session, since=DAY - timedelta(days=20))
    [narrow_indicator] = objects_of(narrow, "indicator")
    [wide_indicator] = objects_of(wide, "indicator")
    assert narrow_indicator.serialize() == wide_indicator.serialize()
    assert narrow_indicator.valid_from == DAY - timedelta(days=10)
    assert len(objects_of(narrow, "sighting")) == 1  # only the alert in the range
    assert len(objects_of(wide, "sighting")) == 2


def test_no_people_and_no_host_names_are_ever_in_a_bundle(db_session):
    alert_with(db_session, ("ip", "203.0.113.7"), ("host", "dc01.agency.local"), *PEOPLE)
    text = export(db_session).serialize(pretty=False)
    for _kind, value in [("host", "dc01.agency.local"), *PEOPLE]:
        assert value.lower() not in text.lower()
    assert "alice" not in text.lower()
    assert "psn-" not in text
    assert "user-account" not in text
    assert "email-addr" not in text


def test_an_alert_without_ip_addresses_adds_nothing(db_session):
    alert_with(db_session, *PEOPLE)
    bundle = export(db_session)
    assert [o.type for o in bundle.objects] == ["identity"]


def test_a_malformed_ip_entity_is_passed_over(db_session):
    alert_with(db_session, ("ip", "999.1.1.1"), ("ip", "203.0.113.9"))
    [indicator] = objects_of(export(db_session), "indicator")
    assert indicator.name == "203.0.113.9"


def test_alerts_closed_as_false_positive_or_benign_are_no_sightings(db_session):
    alert_with(db_session, ("ip", "203.0.113.7"), status="closed", resolution="false_positive")
    alert_with(db_session, ("ip", "203.0.113.8"), status="closed", resolution="benign")
    alert_with(db_session, ("ip", "203.0.113.8"), status="acknowledged")
    bundle = export(db_session)
    assert [o.name for o in objects_of(bundle, "indicator")] == ["203.0.113.8"]
    assert len(objects_of(bundle, "sighting")) == 1


def test_an_address_is_malicious_once_an_alert_with_it_was_a_true_positive(db_session):
    alert_with(db_session, ("ip", "203.0.113.7"))
    alert_with(
        db_session,
        ("ip", "203.0.113.7"),
        status="closed",
        resolution="true_positive",
        seen=DAY - timedelta(days=30),
    )
    [indicator] = objects_of(export(db_session), "indicator")
    assert indicator.indicator_types == ["malicious-activity"]


def test_alerts_outside_the_range_are_left_out(db_session):
    alert_with(db_session, ("ip", "203.0.113.1"), seen=DAY - timedelta(days=3))
    alert_with(db_session, ("ip", "203.0.113.2"), seen=DAY + timedelta(days=3))
    # Seen before the range and still active inside it: in.
    alert_with(
        db_session,
        ("ip", "203.0.113.3"),
        first_seen=DAY - timedelta(days=3),
        last_seen=DAY + timedelta(hours=1),
    )
    names = [o.name for o in objects_of(export(db_session), "indicator")]
    assert names == ["203.0.113.3"]


def test_more_alerts_than_one_export_may_hold_is_refused_not_cut_short(db_session, monkeypatch):
    monkeypatch.setattr(stix, "MAX_ALERTS", 2)
    for number in range(3):
        alert_with(db_session, ("ip", f"203.0.113.{number}"))
    with pytest.raises(InvalidInput, match="More than 2 alerts"):
        export(db_session)


def test_the_counts_name_each_kind_of_object(db_session):
    alert_with(db_session, ("ip", "203.0.113.7"), ("ip", "2001:db8::1"))
    assert stix.bundle_counts(export(db_session)) == {
        "identity": 1,
        "indicator": 2,
        "sighting": 2,
        "alerts": 1,
    }


# The time range -----------------------------------------------------------------------------

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_the_default_range_is_the_last_day():
    assert stix.export_range(None, None, now=NOW) == (NOW - timedelta(days=1), NOW)


def test_times_without_an_offset_are_utc_and_offsets_are_honoured():
    start, end = stix.export_range("2026-03-01T09:30", "2026-03-02T10:30+01:00", now=NOW)
    assert start == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert end == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert stix.export_range("2026-02-01", "2026-03-01", now=NOW)[0] == datetime(
        2026, 2, 1, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("yesterday", None, "is not an ISO 8601 time"),
        ("2026-13-01", None, "is not an ISO 8601 time"),
        ("2026-03-01T00:00Z", "2026-02-28T00:00Z", "must be before its end"),
        ("2026-03-01T00:00Z", "2026-03-01T00:00Z", "must be before its end"),
        ("2025-11-01T00:00Z", "2026-03-01T00:00Z", "at most 90 days"),
        ("2026-03-01T00:00:00.000000000000000000000000000000Z", None, "at most 40 characters"),
        (None, "0001-01-01", "within the years 1 to 9999"),  # the default start overflowed
        ("0001-01-01T00:00+01:00", None, "within the years 1 to 9999"),
    ],
)
def test_a_bad_range_is_refused_with_a_reason(since, until, message):
    with pytest.raises(InvalidInput, match=message):
        stix.export_range(since, until, now=NOW)


def test_exactly_ninety_days_is_allowed():
    start, end = stix.export_range("2025-12-02T12:00Z", None, now=NOW)
    assert end - start == timedelta(days=90)
