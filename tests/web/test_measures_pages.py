"""The measures register pages: roles, four eyes (the proposer cannot approve), validation
errors shown next to their field with nothing stored, CSRF, pseudonyms only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from staff_safety.models import MeasureStatus, PerpetratorMeasure
from tests.support.accounts import enrolled_user, post_form, sign_in
from tests.support.admin import audit_entries
from tests.support.incident_factories import make_incident
from tests.unit.staff_safety.test_measures import make_case

REGISTER = "/staff-safety/measures"


@pytest.fixture
def case(rollback_database):
    with rollback_database.unit_of_work() as session:
        return make_case(session)


@pytest.fixture
def officer(app, client, clock):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"  # the tests read English messages
    account = enrolled_user(app, role="security_officer", username="officier1")
    sign_in(client, account, clock)
    return account


@pytest.fixture
def second(app, clock):
    other = app.test_client()
    other.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    sign_in(other, enrolled_user(app, role="security_officer", username="officier2"), clock)
    return other


def ban_form(clock, case, **overrides: str) -> dict[str, str]:
    today = clock.now().date()
    form = {
        "perpetrator_pseudonym": case.perpetrator,
        "kind": "building_ban",
        "legal_basis": "Huisregels art. 4; art. 5:1 Awb",
        "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=180)).isoformat(),
        "review_on": (today + timedelta(days=90)).isoformat(),
        "expires_on": (today + timedelta(days=180)).isoformat(),
        "house_rules": "Huisregels art. 4",
    }
    form.update(overrides)
    return form


def propose(client, clock, case, **overrides: str):
    page = f"{REGISTER}?incident={case.incident_id}"
    target = f"/staff-safety/cases/{case.incident_id}/measures"
    return post_form(client, page, target, ban_form(clock, case, **overrides))


def stored(database) -> list[PerpetratorMeasure]:
    with database.unit_of_work() as session:
        return list(session.scalars(select(PerpetratorMeasure).order_by(PerpetratorMeasure.id)))


@pytest.mark.parametrize("role", ["staff", "soc_analyst", "auditor"])
def test_only_security_officers_see_or_change_the_register(app, client, clock, case, role):
    sign_in(client, enrolled_user(app, role=role), clock)

    assert client.get(REGISTER).status_code == 403
    response = client.post(f"/staff-safety/cases/{case.incident_id}/measures", data={})
    assert response.status_code in (400, 403)  # no CSRF token either way
    assert client.post("/staff-safety/measures/1/decide", data={}).status_code in (400, 403)


def test_a_proposal_waits_for_a_second_officer_and_the_proposer_cannot_approve(
    client, second, clock, case, officer, rollback_database
):
    assert propose(client, clock, case).status_code == 303
    [measure] = stored(rollback_database)
    assert measure.status == MeasureStatus.PROPOSED

    own = post_form(
        client, REGISTER, f"/staff-safety/measures/{measure.id}/decide", {"decision": "approve"}
    )
    assert own.status_code == 403
    assert "second person must decide" in own.get_data(as_text=True)
    assert stored(rollback_database)[0].status == MeasureStatus.PROPOSED

    other = post_form(
        second, REGISTER, f"/staff-safety/measures/{measure.id}/decide", {"decision": "approve"}
    )
    assert other.status_code == 303
    assert stored(rollback_database)[0].status == MeasureStatus.ACTIVE


def test_the_register_shows_pseudonyms_filters_and_is_audited(
    client, clock, case, officer, rollback_database
):
    propose(client, clock, case)

    page = client.get(f"{REGISTER}?person={case.perpetrator}&status=proposed").get_data(
        as_text=True
    )

    assert case.perpetrator in page
    assert "Jan de Vries" not in page
    assert "CJIB-2026-123456" not in page
    assert (
        client.get(f"{REGISTER}?status=active").get_data(as_text=True).count(case.perpetrator) == 0
    )
    assert audit_entries(rollback_database, "staff_measure.read")


@pytest.mark.parametrize("query", ["?status=forever", "?kind=exile", "?person=Jan%20de%20Vries"])
def test_a_filter_off_the_list_is_refused(client, officer, query):
    response = client.get(REGISTER + query)

    assert response.status_code == 400
    assert 'id="filter-error"' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"legal_basis": ""}, "legal_basis"),
        ({"review_on": "2026-13-45"}, "review_on"),
        ({"ends_on": ""}, "ends_on"),
        ({"house_rules": ""}, "house_rules"),
        ({"kind": "contact_restriction", "contact_mode": "one_contact"}, "contact_user_id"),
        ({"perpetrator_pseudonym": "Jan de Vries"}, "perpetrator_pseudonym"),
    ],
)
def test_a_bad_proposal_shows_the_error_next_to_its_field_and_stores_nothing(
    client, clock, case, officer, rollback_database, overrides, field
):
    response = propose(client, clock, case, **overrides)

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f'id="{field}-error"' in page
    assert 'aria-invalid="true"' in page
    assert stored(rollback_database) == []


def test_a_proposal_without_the_csrf_token_is_refused(
    client, clock, case, officer, rollback_database
):
    response = client.post(
        f"/staff-safety/cases/{case.incident_id}/measures", data=ban_form(clock, case)
    )

    assert response.status_code == 400
    assert stored(rollback_database) == []


def test_a_measure_of_a_case_that_is_not_staff_safety_is_not_found(
    client, clock, case, officer, rollback_database
):
    with rollback_database.unit_of_work() as session:
        cyber = make_incident(session, type="cyber").id
    target = f"/staff-safety/cases/{cyber}/measures"

    assert post_form(client, REGISTER, target, ban_form(clock, case)).status_code == 404
    assert (
        post_form(
            client, REGISTER, "/staff-safety/measures/999999/end", {"reason": "klaar nu"}
        ).status_code
        == 404
    )


def test_an_active_measure_is_ended_with_a_reason(
    client, second, clock, case, officer, rollback_database
):
    propose(client, clock, case)
    [measure] = stored(rollback_database)
    post_form(
        second, REGISTER, f"/staff-safety/measures/{measure.id}/decide", {"decision": "approve"}
    )

    refused = post_form(
        client, REGISTER, f"/staff-safety/measures/{measure.id}/end", {"reason": ""}
    )
    assert refused.status_code == 400
    assert f'id="measure-{measure.id}-error"' in refused.get_data(as_text=True)
    ended = post_form(
        client,
        REGISTER,
        f"/staff-safety/measures/{measure.id}/end",
        {"reason": "Opgeheven na gesprek"},
    )

    assert ended.status_code == 303
    with rollback_database.unit_of_work() as session:
        assert (
            session.scalar(
                select(func.count(PerpetratorMeasure.id)).where(
                    PerpetratorMeasure.status == "ended"
                )
            )
            == 1
        )
