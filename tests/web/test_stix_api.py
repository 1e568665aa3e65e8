"""``GET /api/v1/alerts/stix``: a STIX 2.1 bundle for an ``alerts:read`` token, with the
STIX media type; the time range checked (400s that say why); scopes; every export audited.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import stix2

from access_control.tokens import Scope
from incidents.alerts.models import AlertEntity
from tests.support.accounts import enrolled_user, sign_in
from tests.support.admin import audit_entries
from tests.support.incident_factories import make_alert
from tests.support.tokens import bearer, issue_token

NOW = datetime(2026, 1, 1, tzinfo=UTC)  # the app's fixed clock
URL = "/api/v1/alerts/stix"


@pytest.fixture
def reader(rollback_database, clock):
    _id, text = issue_token(rollback_database, clock, Scope.ALERTS_READ, name="tip-export")
    return bearer(text)


def store_alert(database, *entities, seen=NOW - timedelta(hours=2)):
    with database.unit_of_work() as session:
        alert = make_alert(
            session,
            entities=orjson.dumps([list(entity) for entity in entities]).decode(),
            first_seen=seen,
            last_seen=seen,
            created_at=seen,
            updated_at=seen,
        )
        for kind, value in entities:
            session.add(AlertEntity(alert_id=alert.id, kind=kind, value=value))
        return alert.id


def test_a_reader_gets_a_stix_bundle_with_the_stix_media_type(client, reader, rollback_database):
    alert_id = store_alert(rollback_database, ("ip", "203.0.113.7"), ("account", "alice"))
    response = client.get(URL, headers=reader)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/stix+json;version=2.1"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    bundle = stix2.parse(response.get_data(as_text=True))
    types = [stix_object.type for stix_object in bundle.objects]
    assert types == ["identity", "indicator", "sighting"]
    assert bundle.objects[1].pattern == "[ipv4-addr:value = '203.0.113.7']"
    assert bundle.objects[2].external_references[0].external_id == f"wachter-alert-{alert_id}"
    assert "alice" not in response.get_data(as_text=True)


def test_the_range_arguments_choose_the_alerts(client, reader, rollback_database):
    store_alert(rollback_database, ("ip", "203.0.113.1"), seen=NOW - timedelta(days=10))
    store_alert(rollback_database, ("ip", "203.0.113.2"), seen=NOW - timedelta(hours=1))
    default = stix2.parse(client.get(URL, headers=reader).get_data(as_text=True))
    assert [o.name for o in default.objects if o.type == "indicator"] == ["203.0.113.2"]
    arguments = {"since": "2025-12-20T00:00:00Z", "until": "2025-12-25T00:00:00Z"}
    older = client.get(URL, query_string=arguments, headers=reader)
    names = [
        o.name for o in stix2.parse(older.get_data(as_text=True)).objects if o.type == "indicator"
    ]
    assert names == ["203.0.113.1"]


def test_every_export_is_audited_with_the_token_the_range_and_the_counts(
    client, reader, rollback_database
):
    store_alert(rollback_database, ("ip", "203.0.113.7"), ("ip", "2001:db8::1"))
    client.get(URL, query_string={"since": "2025-12-31T12:00:00Z"}, headers=reader)
    [entry] = audit_entries(rollback_database, "alerts.exported")
    assert entry.actor == "token:tip-export"
    assert entry.target == "alerts:stix"
    assert json.loads(entry.details) == {
        "format": "stix",
        "since": "2025-12-31T12:00:00+00:00",
        "until": "2026-01-01T00:00:00+00:00",
        "alerts": 1,
        "indicators": 2,
        "sightings": 2,
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"since": "last tuesday"}, "is not an ISO 8601 time"),
        ({"until": "2026-02-30"}, "is not an ISO 8601 time"),
        ({"since": "2025-06-01T00:00Z"}, "A time range is at most 90 days long."),
        ({"since": "2026-01-01T00:00Z", "until": "2025-12-31T00:00Z"}, "must be before its end"),
        ({"since": "2" * 41}, "A time is at most 40 characters."),
        # Found by schemathesis (tests/security/test_openapi.py): each overflowed, a 500.
        ({"until": "0001-01-01", "since": ""}, "within the years 1 to 9999"),
        ({"since": "0001-01-01T00:00:00+01:00"}, "within the years 1 to 9999"),
        ({"until": "9999-12-31T23:00:00-01:00"}, "within the years 1 to 9999"),
    ],
)
def test_a_bad_range_is_a_400_that_says_why_and_exports_nothing(
    client, reader, rollback_database, arguments, message
):
    response = client.get(URL, query_string=arguments, headers={**reader, "Accept-Language": "en"})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_request"
    assert message in error["message"]
    assert audit_entries(rollback_database, "alerts.exported") == []


def test_a_token_without_the_alerts_scope_is_refused(client, rollback_database, clock):
    _id, events_reader = issue_token(rollback_database, clock, Scope.EVENTS_READ)
    response = client.get(URL, headers=bearer(events_reader))
    assert response.status_code == 403
    assert audit_entries(rollback_database, "alerts.exported") == []
    [denial] = audit_entries(rollback_database, "authz.denied")
    assert "alerts:read" in denial.details


def test_no_token_is_a_401_and_a_signed_in_session_does_not_count(app, client, clock):
    assert client.get(URL).status_code == 401
    sign_in(client, enrolled_user(app, role="soc_analyst"), clock)
    response = client.get(URL)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_a_token_in_the_query_string_is_refused(client, rollback_database, clock):
    _id, text = issue_token(rollback_database, clock, Scope.ALERTS_READ)
    response = client.get(URL, query_string={"access_token": text})
    assert response.status_code == 401
    assert audit_entries(rollback_database, "alerts.exported") == []
