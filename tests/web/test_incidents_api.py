"""``/api/v1/incidents``: scopes, cursor paging, the incident document (people only as
pseudonyms), opening an incident from JSON with unknown fields refused, and audits.
Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from access_control import Actor
from access_control.tokens import Scope
from incidents.cases.models import Incident
from incidents.cases.playbooks import install_default_playbooks
from incidents.cases.related import add_entity
from incidents.cases.service import create_incident
from tests.support.admin import audit_entries
from tests.support.tokens import bearer, issue_token


@pytest.fixture
def client(client):
    # Messages are read in English here; test_i18n checks every message has its Dutch.
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def token(database, clock, *scopes, name="soc"):
    return issue_token(database, clock, *scopes, name=name)[1]


def make(database, clock, title="Phishing", **overrides):
    with database.unit_of_work() as session:
        values = {"incident_type": "cyber", "severity": "high", **overrides}
        return create_incident(
            session, title=title, actor=Actor(name="officier"), now=clock.now(), **values
        ).id


def incidents_stored(database):
    with database.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(Incident))


def test_scopes_are_enforced(client, clock, rollback_database):
    incident_id = make(rollback_database, clock)
    alerts_only = bearer(token(rollback_database, clock, Scope.ALERTS_READ, name="alerts"))
    reader = bearer(token(rollback_database, clock, Scope.INCIDENTS_READ, name="reader"))
    for path in ("/api/v1/incidents", f"/api/v1/incidents/{incident_id}"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers=alerts_only).status_code == 403
        assert client.get(path, headers=reader).status_code == 200
    body = {"title": "x", "type": "cyber", "severity": "low"}
    assert client.post("/api/v1/incidents", json=body, headers=reader).status_code == 403
    assert client.post("/api/v1/incidents", json=body, headers=alerts_only).status_code == 403
    assert incidents_stored(rollback_database) == 1
    denied = audit_entries(rollback_database, "authz.denied")
    assert {entry.target for entry in denied} >= {"GET /api/v1/incidents", "POST /api/v1/incidents"}


def test_the_list_pages_by_id_with_a_cursor(client, clock, rollback_database):
    made = [make(rollback_database, clock, title=f"Nummer {n}") for n in range(3)]
    headers = bearer(token(rollback_database, clock, Scope.INCIDENTS_READ))
    first = client.get("/api/v1/incidents?limit=2", headers=headers).get_json()
    assert [item["id"] for item in first["data"]] == made[:2]
    assert (first["next_cursor"], first["has_more"]) == (str(made[1]), True)
    second = client.get(
        f"/api/v1/incidents?after={first['next_cursor']}&limit=2", headers=headers
    ).get_json()
    assert [item["id"] for item in second["data"]] == made[2:]
    assert (second["next_cursor"], second["has_more"]) == (str(made[2]), False)
    third = client.get(f"/api/v1/incidents?after={made[2]}", headers=headers).get_json()
    assert (third["data"], third["next_cursor"]) == ([], str(made[2]))
    reads = audit_entries(rollback_database, "incident.read")
    assert [(read.actor, read.target) for read in reads] == [("token:soc", "incident:list")] * 3


def test_a_full_page_of_200_says_that_more_follow(client, clock, rollback_database):
    officer = Actor(name="officier")
    with rollback_database.unit_of_work() as session:
        for number in range(201):
            values = {"incident_type": "cyber", "severity": "low", "actor": officer}
            create_incident(session, title=f"Nummer {number}", now=clock.now(), **values)
    headers = bearer(token(rollback_database, clock, Scope.INCIDENTS_READ))
    first = client.get("/api/v1/incidents?limit=200", headers=headers).get_json()
    assert (len(first["data"]), first["has_more"]) == (200, True)  # it said False before
    rest = client.get(f"/api/v1/incidents?after={first['next_cursor']}&limit=200", headers=headers)
    assert (len(rest.get_json()["data"]), rest.get_json()["has_more"]) == (1, False)


def test_the_list_filters(client, clock, rollback_database):
    make(rollback_database, clock)
    physical = make(rollback_database, clock, incident_type="physical")
    headers = bearer(token(rollback_database, clock, Scope.INCIDENTS_READ))
    answer = client.get("/api/v1/incidents?type=physical", headers=headers).get_json()
    assert [item["id"] for item in answer["data"]] == [physical]


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=201", "limit=abc", "after=-1", "after=1%20OR%201=1", "state=nope"]
)
def test_bad_paging_or_filters_are_a_400(client, clock, rollback_database, query):
    headers = bearer(token(rollback_database, clock, Scope.INCIDENTS_READ))
    response = client.get(f"/api/v1/incidents?{query}", headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


def test_one_incident_with_its_tasks_and_entities_people_pseudonymised(
    client, clock, rollback_database
):
    with rollback_database.unit_of_work() as session:
        install_default_playbooks(session, clock.now())
    incident_id = make(rollback_database, clock)
    with rollback_database.unit_of_work() as session:
        for kind, value in [("account", "jdevries"), ("ip", "192.0.2.7")]:
            add_entity(
                session,
                incident_id=incident_id,
                kind=kind,
                value=value,
                actor=Actor(name="x"),
                now=clock.now(),
            )
    headers = bearer(token(rollback_database, clock, Scope.INCIDENTS_READ))
    response = client.get(f"/api/v1/incidents/{incident_id}", headers=headers)
    document = response.get_json()
    assert document["reference"].startswith("INC-")
    assert (document["state"], document["next_states"]) == ("new", ["triage"])
    assert document["created_at"].endswith("Z")
    assert "Getroffen hosts isoleren" in [task["title"] for task in document["tasks"]]
    entities = {entity["kind"]: entity["value"] for entity in document["entities"]}
    assert entities["ip"] == "192.0.2.7"
    assert entities["account"].startswith("psn-")
    assert "jdevries" not in response.get_data(as_text=True)
    [read] = audit_entries(rollback_database, "incident.read")
    assert (read.actor, read.target) == ("token:soc", f"incident:{incident_id}")


def test_an_unknown_incident_is_a_404(client, clock, rollback_database):
    headers = bearer(token(rollback_database, clock, Scope.INCIDENTS_READ))
    response = client.get("/api/v1/incidents/999999", headers=headers)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("incident_id", ["2147483648", "9223372036854775808", "1" + "0" * 30])
def test_an_id_no_row_can_have_is_a_404_not_an_overflow(
    client, clock, rollback_database, incident_id
):
    """Found by schemathesis (tests/security/test_openapi.py): ``/api/v1/incidents/
    9223372036854775808``, one above 2**63 - 1, overflowed in the database driver (500)."""
    headers = bearer(token(rollback_database, clock, Scope.INCIDENTS_READ))
    response = client.get(f"/api/v1/incidents/{incident_id}", headers=headers)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_a_token_opens_an_incident_and_it_is_audited_as_the_token(client, clock, rollback_database):
    headers = bearer(token(rollback_database, clock, Scope.INCIDENTS_WRITE, name="soar"))
    body = {
        "title": "Phishing-golf",
        "description": "Gemeld door de SOC",
        "type": "cyber",
        "severity": "high",
        "tlp": "green",
    }
    response = client.post("/api/v1/incidents", json=body, headers=headers)
    assert response.status_code == 201
    document = response.get_json()
    assert response.headers["Location"] == f"/api/v1/incidents/{document['id']}"
    assert (document["title"], document["tlp"], document["created_by"], document["state"]) == (
        "Phishing-golf",
        "green",
        "token:soar",
        "new",
    )
    [created] = audit_entries(rollback_database, "incident.created")
    assert (created.actor, created.target) == ("token:soar", f"incident:{document['id']}")
    assert json.loads(created.details)["reference"] == document["reference"]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"state": "closed"}, "state"),
        ({"created_by": "admin"}, "created_by"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
        ({"merged_into_id": 1}, "merged_into_id"),
        ({"is_admin": True}, "is_admin"),
    ],
)
def test_unknown_fields_are_refused_mass_assignment(client, clock, rollback_database, extra, field):
    headers = bearer(token(rollback_database, clock, Scope.INCIDENTS_WRITE))
    body = {"title": "x", "type": "cyber", "severity": "low", **extra}
    response = client.post("/api/v1/incidents", json=body, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == f"Unknown field \u201c{field}\u201d."
    assert incidents_stored(rollback_database) == 0
    assert audit_entries(rollback_database, "incident.created") == []


@pytest.mark.parametrize(
    "body",
    [
        {"type": "cyber", "severity": "low"},
        {"title": 5, "type": "cyber", "severity": "low"},
        {"title": "x", "type": "cyber", "severity": "urgent"},
        {"title": "x", "type": "cyber", "severity": "low", "assignee_id": "1"},
        {"title": "x", "type": "cyber", "severity": "low", "assignee_id": True},
        {"title": "x", "type": "cyber", "severity": "low", "assignee_id": 999_999},
        ["not", "an", "object"],
    ],
)
def test_a_bad_body_is_a_400_and_stores_nothing(client, clock, rollback_database, body):
    headers = bearer(token(rollback_database, clock, Scope.INCIDENTS_WRITE))
    response = client.post("/api/v1/incidents", json=body, headers=headers)
    assert response.status_code == 400
    assert incidents_stored(rollback_database) == 0


def test_only_json_is_accepted(client, clock, rollback_database):
    headers = bearer(token(rollback_database, clock, Scope.INCIDENTS_WRITE))
    response = client.post(
        "/api/v1/incidents",
        data="title=x&type=cyber&severity=low",
        content_type="application/x-www-form-urlencoded",
        headers=headers,
    )
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "unsupported_media_type"
    broken = client.post(
        "/api/v1/incidents", data="{not json", content_type="application/json", headers=headers
    )
    assert broken.status_code == 400
    assert incidents_stored(rollback_database) == 0


# Found by schemathesis (tests/security/test_openapi.py) and the probes it led to: each was a 500.
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("assignee_id", -10_000_000_000_000_000_000),  # overflowed SQLite's INTEGER
        ("assignee_id", 98_469_529_935),  # overflowed PostgreSQL's INTEGER user ids
        ("reviewer_id", 2**31),
    ],
)
def test_a_user_id_no_account_can_have_is_a_400(client, clock, rollback_database, field, value):
    headers = bearer(token(rollback_database, clock, Scope.INCIDENTS_WRITE))
    body = {"title": "x", "type": "cyber", "severity": "low", field: value}
    response = client.post("/api/v1/incidents", json=body, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == (
        f"The field \u201c{field}\u201d must be a user id or null."
    )
    assert incidents_stored(rollback_database) == 0


@pytest.mark.parametrize(
    "raw",
    [
        rb'{"title": "a\u0000b", "type": "cyber", "severity": "low"}',  # PostgreSQL refuses NUL
        rb'{"title": "x", "description": "\u0000", "type": "cyber", "severity": "low"}',
        rb'{"title": "x", "playbook": "p\u0000", "type": "cyber", "severity": "low"}',
        rb'{"title": "a\ud800b", "type": "cyber", "severity": "low"}',  # no driver encodes it
        rb'{"title": "x", "playbook": "\udfff", "type": "cyber", "severity": "low"}',
    ],
)
def test_text_no_database_can_store_is_a_400(client, clock, rollback_database, raw):
    headers = bearer(token(rollback_database, clock, Scope.INCIDENTS_WRITE))
    response = client.post(
        "/api/v1/incidents", data=raw, content_type="application/json", headers=headers
    )
    assert response.status_code == 400
    assert "may not hold NUL or unpaired surrogates" in response.get_json()["error"]["message"]
    assert incidents_stored(rollback_database) == 0
