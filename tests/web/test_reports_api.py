"""``/api/v1/reports``: facts and pseudonyms for a ``reports:read`` token, never free text."""

from __future__ import annotations

import json

import pytest

from access_control.tokens import Scope
from tests.support.accounts import enrolled_user, sign_in
from tests.support.tokens import bearer, issue_token
from tests.web.test_report_form import FORM, SECRETS, post_report, reports


@pytest.fixture
def sent(app, client, clock, rollback_database):
    """Three reports sent by one member of staff (the first a physical violence)."""
    sign_in(client, enrolled_user(app, role="staff", username="melder"), clock)
    post_report(client, {**FORM, "category": "physical_violence", "weapon": "1"})
    post_report(client, FORM)
    post_report(client, {**FORM, "category": "verbal_abuse"})
    return reports(rollback_database)


def reader(rollback_database, clock, *scopes):
    _id, text = issue_token(rollback_database, clock, *(scopes or (Scope.REPORTS_READ,)))
    return bearer(text)


def test_a_token_without_the_reports_scope_is_refused(app, sent, rollback_database, clock):
    api = app.test_client()
    assert api.get("/api/v1/reports").status_code == 401
    headers = reader(rollback_database, clock, Scope.INCIDENTS_READ)
    assert api.get("/api/v1/reports", headers=headers).status_code == 403
    assert api.get(f"/api/v1/reports/{sent[0].number}", headers=headers).status_code == 403


def test_the_list_pages_newest_first_with_before(app, sent, rollback_database, clock):
    api, headers = app.test_client(), reader(rollback_database, clock)
    first = api.get("/api/v1/reports?limit=2", headers=headers).get_json()
    assert [item["number"] for item in first["data"]] == [sent[2].number, sent[1].number]
    assert first["has_more"] is True
    rest = api.get(f"/api/v1/reports?limit=2&before={first['next_before']}", headers=headers)
    assert [item["number"] for item in rest.get_json()["data"]] == [sent[0].number]
    assert rest.get_json()["has_more"] is False
    only = api.get("/api/v1/reports?category=physical_violence", headers=headers).get_json()
    assert [item["number"] for item in only["data"]] == [sent[0].number]


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=201", "limit=x", "before=-1", "category=gossip", "state=lost"]
)
def test_bad_paging_or_filters_are_a_400(app, sent, rollback_database, clock, query):
    api, headers = app.test_client(), reader(rollback_database, clock)
    assert api.get(f"/api/v1/reports?{query}", headers=headers).status_code == 400


def test_one_report_has_facts_and_pseudonyms_and_no_free_text(app, sent, rollback_database, clock):
    api, headers = app.test_client(), reader(rollback_database, clock)
    response = api.get(f"/api/v1/reports/{sent[0].number}", headers=headers)
    assert response.status_code == 200
    document = response.get_json()
    assert document["category"] == "physical_violence"
    assert document["weapon"] is True
    assert document["channel"] == "in_person"
    assert document["occurred_month"] == "2025-12"
    assert document["incident"]["state"] == "reported"
    assert document["people"]["reporter"].startswith("P-")
    assert document["people"]["perpetrator"].startswith("P-")
    text = json.dumps(api.get("/api/v1/reports", headers=headers).get_json()) + json.dumps(document)
    for secret in (*SECRETS, FORM["description"], FORM["others_present"], "rode jas", "melder"):
        assert secret not in text


def test_an_unknown_number_is_a_404(app, sent, rollback_database, clock):
    api, headers = app.test_client(), reader(rollback_database, clock)
    assert api.get("/api/v1/reports/MEL-2026-99999", headers=headers).status_code == 404
    assert api.get("/api/v1/reports/anything", headers=headers).status_code == 404
