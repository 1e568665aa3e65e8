"""The console's detection lists (/detection-lists): who may look and change, the values as an
audited read, changes through the list service (audited with counts only) behind a fresh
confirmation, a refused value that changes nothing and keeps the typed text, the lists the
staff-safety measures keep (size only, never changed by hand), and the rules using a list."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from access_control import Actor
from detection_rules.loading import RuleSource
from detection_rules.models import DetectionList
from detection_rules.service import import_rules, set_list
from tests.support.accounts import enrolled_user, sign_in
from tests.support.admin import audit_entries, post, step_up

pytestmark = [pytest.mark.one_backend, pytest.mark.usefixtures("english")]

OFFICE_RULE = """title: Sign-in from outside the office
id: 7a1d0c2e-0000-4000-8000-000000000001
status: test
logsource: {category: authentication}
detection:
  selection: {event.outcome: success}
  office: {source.ip|expand: '%office_networks%'}
  condition: selection and not office
level: medium
"""


@pytest.fixture
def lists(rollback_database, clock):
    """office_networks with two ranges, a measures list with a name in it, and a rule."""
    with rollback_database.unit_of_work() as session:
        actor, now = Actor.system(), clock.now()
        set_list(
            session,
            name="office_networks",
            kind="networks",
            values=["192.0.2.0/24", "198.51.100.7"],
            actor=actor,
            now=now,
        )
        set_list(
            session,
            name="banned_identifiers",
            kind="strings",
            values=["jan jansen"],
            actor=actor,
            now=now,
        )
        import_rules(
            session, [RuleSource("office.yml", OFFICE_RULE.encode())], actor=actor, now=now
        )


def stored_values(database, name: str) -> list[str] | None:
    with database.unit_of_work() as session:
        row = session.get(DetectionList, name)
        return None if row is None else json.loads(row.values)


def test_the_list_page_shows_each_list_with_its_size_and_the_rules_using_it(client, officer, lists):
    page = client.get("/detection-lists").text

    row = page.split('<tr id="list-office_networks">')[1].split("</tr>")[0]
    assert "<code>%office_networks%</code>" in row
    assert '<td class="count">2</td>' in row  # values
    assert row.count('<td class="count">1</td>') == 1  # the rule using it
    assert "kept from the measures register" in page.split('id="list-banned_identifiers"')[1]


def test_a_lists_values_are_shown_and_reading_them_is_audited(
    client, officer, lists, rollback_database
):
    page = client.get("/detection-lists/office_networks").text

    assert "<code>192.0.2.0/24</code>" in page
    assert "<code>198.51.100.7</code>" in page
    assert "Sign-in from outside the office" in page  # the rule using it
    [read] = audit_entries(rollback_database, "detection_list.read")
    assert (read.actor, read.target) == ("officier", "detection_list:office_networks")


def test_a_measures_list_shows_its_size_but_never_its_values(
    client, officer, lists, rollback_database
):
    page = client.get("/detection-lists/banned_identifiers").text

    assert "jan jansen" not in page
    assert '<dd id="list-size">1</dd>' in page  # an officer reads reports: the size
    assert "Change the values" not in page
    assert "kept from the staff-safety measures register" in page
    assert audit_entries(rollback_database, "detection_list.read") == []  # nothing was read
    assert client.get("/detection-lists/banned_identifiers/edit").status_code == 409


def test_an_officer_changes_a_list_after_confirming_and_the_change_is_audited(
    client, officer, clock, lists, rollback_database
):
    clock.advance(timedelta(minutes=10, seconds=30))  # the sign-in no longer counts as fresh
    response = client.get("/detection-lists/office_networks/edit")
    assert urlsplit(response.headers["Location"]).path == "/account/confirm"
    step_up(client, officer, clock)

    form = client.get("/detection-lists/office_networks/edit").text
    assert "192.0.2.0/24\n198.51.100.7</textarea>" in form
    response = post(
        client,
        "/detection-lists/office_networks/edit",
        {"values": "192.0.2.0/24\n\n 203.0.113.0/25 \n192.0.2.0/24\n"},
    )

    assert response.status_code == 303
    assert response.headers["Location"] == "/detection-lists/office_networks"
    assert stored_values(rollback_database, "office_networks") == ["192.0.2.0/24", "203.0.113.0/25"]
    change = audit_entries(rollback_database, "detection_list.set")[-1]
    assert change.actor == "officier"
    assert json.loads(change.details)["values"] == 2
    assert "203.0.113" not in change.details  # counts only
    assert "now holds 2 values" in client.get(response.headers["Location"]).text


def test_a_refused_value_changes_nothing_and_the_form_keeps_what_was_typed(
    client, officer, lists, rollback_database
):
    typed = "192.0.2.0/24\n10.0.0.300\n"
    response = post(client, "/detection-lists/office_networks/edit", {"values": typed})

    assert response.status_code == 400
    page = response.text
    assert "10.0.0.300 is not an IP address or network" in page
    assert f">{typed}</textarea>" in page
    assert 'aria-invalid="true"' in page
    assert stored_values(rollback_database, "office_networks") == ["192.0.2.0/24", "198.51.100.7"]


def test_a_new_list_is_created_with_its_kind(client, officer, lists, rollback_database):
    response = post(
        client,
        "/detection-lists/new",
        {"name": "admin_accounts", "kind": "strings", "values": "beheer\nadm.pbakker"},
    )

    assert response.status_code == 303
    assert stored_values(rollback_database, "admin_accounts") == ["beheer", "adm.pbakker"]


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"name": "office networks", "kind": "strings"}, "is not a list name"),
        ({"name": "vips", "kind": "people"}, "is not a list kind"),
        ({"name": "office_networks", "kind": "networks"}, "exists already"),
        ({"name": "banned_persons", "kind": "strings"}, "kept from the staff-safety measures"),
    ],
)
def test_a_new_list_that_cannot_be_made_is_refused_with_the_reason(
    client, officer, lists, rollback_database, form, reason
):
    response = post(client, "/detection-lists/new", {**form, "values": "x"})

    assert response.status_code == 400
    assert reason in response.text
    assert stored_values(rollback_database, "vips") is None
    assert stored_values(rollback_database, "banned_persons") is None
    assert stored_values(rollback_database, "office_networks") == ["192.0.2.0/24", "198.51.100.7"]


def test_a_measures_list_cannot_be_changed_by_hand(client, officer, lists, rollback_database):
    response = post(client, "/detection-lists/banned_identifiers/edit", {"values": "someone"})

    assert response.status_code == 409
    assert stored_values(rollback_database, "banned_identifiers") == ["jan jansen"]


def test_an_analyst_may_look_but_not_change(app, client, clock, lists, rollback_database):
    analyst = enrolled_user(app, role="soc_analyst", username="analist")
    sign_in(client, analyst, clock)

    assert client.get("/detection-lists/office_networks").status_code == 200
    assert "Change the values" not in client.get("/detection-lists/office_networks").text
    # How many people are under a measure is staff-safety information (REPORTS_READ).
    assert 'id="list-size"' not in client.get("/detection-lists/banned_identifiers").text
    row = client.get("/detection-lists").text.split('id="list-banned_identifiers"')[1]
    assert row.split("</tr>")[0].count('<td class="count">—</td>') == 1
    assert client.get("/detection-lists/office_networks/edit").status_code == 403
    response = post(client, "/detection-lists/office_networks/edit", {"values": "0.0.0.0/0"})
    assert response.status_code == 403
    assert stored_values(rollback_database, "office_networks") == ["192.0.2.0/24", "198.51.100.7"]


@pytest.mark.parametrize("role", ["staff", "auditor", "admin"])
def test_roles_without_rules_see_no_list(app, client, clock, lists, role):
    sign_in(client, enrolled_user(app, role=role), clock)
    assert client.get("/detection-lists").status_code == 403
    assert client.get("/detection-lists/office_networks").status_code == 403


def test_a_change_without_the_csrf_token_is_refused(client, officer, lists, rollback_database):
    response = client.post("/detection-lists/office_networks/edit", data={"values": "0.0.0.0/0"})

    assert response.status_code == 400
    assert stored_values(rollback_database, "office_networks") == ["192.0.2.0/24", "198.51.100.7"]


def test_a_list_that_does_not_exist_is_not_found(client, officer, lists):
    response = client.get("/detection-lists/no_such_list")
    assert response.status_code == 404
    assert "There is no list no_such_list" in response.text


def test_more_lines_than_a_list_may_hold_are_refused_before_any_is_read(
    client, officer, lists, rollback_database
):
    typed = "\n".join(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}" for n in range(10_001))

    response = post(client, "/detection-lists/office_networks/edit", {"values": typed})

    assert response.status_code == 400
    assert "would hold 10001 values; at most 10000" in response.text
    assert stored_values(rollback_database, "office_networks") == ["192.0.2.0/24", "198.51.100.7"]
