"""Measures in force feed the detection lists: values appear on activation and go on end,
expiry and the end of the 14-day doxing window; lists exist even empty; the audit keeps counts."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import Actor
from access_control.models import AuditEntry
from detection_rules.service import get_lists
from staff_safety.detection_feed import LISTS, phone_digits, sync_detection_lists
from staff_safety.measures import decide_measure, end_measure, find_measures, lists_job_run
from staff_safety.models import MeasureStatus, StaffReport
from staff_safety.vault import Person, keep_identity
from tests.factories import make_user
from tests.unit.staff_safety.test_measures import (
    KEYRING,
    NOW,
    TODAY,
    Case,
    contact_terms,
    make_case,
    propose,
)

LOUD = Person(
    name="Jan  de Vries", case_reference="CJIB-2026-123456", email="jan@example.nl",
    phone="+31 6 1234 5678",
)  # fmt: skip


def lists(session: Session) -> dict[str, tuple[str, ...]]:
    return {name: values for name, values in get_lists(session).items() if name in LISTS}


def activate(session: Session, case: Case, **overrides) -> int:
    measure = propose(session, case, **overrides)
    decide_measure(session, KEYRING, measure.id, approve=True, actor=case.second, now=NOW)
    return measure.id


def test_every_list_exists_even_when_nothing_is_in_force(db_session):
    counts = sync_detection_lists(db_session, KEYRING, now=NOW)

    assert counts == dict.fromkeys(LISTS, 0)
    assert lists(db_session) == dict.fromkeys(LISTS, ())


def test_a_proposed_ban_feeds_nothing_an_approved_one_its_pseudonym_name_and_reference(
    db_session,
):
    case = make_case(db_session, perpetrator=LOUD)
    measure = propose(db_session, case)
    sync_detection_lists(db_session, KEYRING, now=NOW)
    assert lists(db_session)["banned_persons"] == ()

    decide_measure(db_session, KEYRING, measure.id, approve=True, actor=case.second, now=NOW)

    found = lists(db_session)
    assert found["banned_persons"] == (case.perpetrator,)
    assert set(found["banned_identifiers"]) == {"Jan de Vries", "CJIB-2026-123456"}
    assert found["contact_restricted"] == ()


def test_ending_a_ban_takes_the_person_off_the_lists_at_once(db_session):
    case = make_case(db_session, perpetrator=LOUD)
    measure_id = activate(db_session, case)

    end_measure(db_session, KEYRING, measure_id, reason="Opgeheven", actor=case.first, now=NOW)

    assert lists(db_session)["banned_persons"] == ()
    assert lists(db_session)["banned_identifiers"] == ()


def test_an_expired_ban_leaves_the_lists_at_the_next_sync(db_session):
    case = make_case(db_session, perpetrator=LOUD)
    activate(db_session, case)  # ends and expires 180 days after TODAY

    sync_detection_lists(db_session, KEYRING, now=NOW + timedelta(days=180))
    assert lists(db_session)["banned_persons"] == (case.perpetrator,)
    sync_detection_lists(db_session, KEYRING, now=NOW + timedelta(days=181))
    assert lists(db_session)["banned_persons"] == ()


def test_a_ban_starting_later_is_listed_from_its_first_day(db_session):
    case = make_case(db_session, perpetrator=LOUD)
    start = TODAY + timedelta(days=10)
    activate(
        db_session,
        case,
        starts_on=start,
        review_on=start + timedelta(days=30),
        ends_on=start + timedelta(days=60),
        expires_on=start + timedelta(days=60),
    )

    assert lists(db_session)["banned_persons"] == ()
    sync_detection_lists(db_session, KEYRING, now=NOW + timedelta(days=10))
    assert lists(db_session)["banned_persons"] == (case.perpetrator,)


def test_a_contact_restriction_lists_the_address_and_the_phone_as_written_and_as_digits(
    db_session,
):
    case = make_case(db_session, perpetrator=LOUD)
    activate(db_session, case, **contact_terms(contact_mode="written_only"))

    found = lists(db_session)
    assert set(found["contact_restricted"]) == {
        "jan@example.nl",
        "+31 6 1234 5678",
        "+31612345678",
    }
    assert found["banned_persons"] == ()


def test_phone_digits_keep_a_leading_plus_only():
    assert phone_digits("06-1234 5678") == "0612345678"
    assert phone_digits(" +31 (0)6 1234") == "+31061234"
    assert phone_digits("onbekend") == ""


def doxing_report(session: Session, *, victim: str, submitted_days_ago: int) -> None:
    moment = NOW - timedelta(days=submitted_days_ago)
    session.add(
        StaffReport(
            number=f"MEL-2026-9{submitted_days_ago:04d}",
            status="submitted",
            reporter_pseudonym=victim,
            victim_pseudonym=victim,
            category="doxing",
            location="social_media",
            created_at=moment,
            updated_at=moment,
            submitted_at=moment,
        )
    )
    session.flush()


def test_the_victim_of_a_doxing_report_is_a_target_for_14_days(db_session):
    employee = make_user(db_session, username="ajansen", email="a.jansen@cjib.example")
    victim = keep_identity(
        db_session,
        KEYRING,
        Person(user_id=employee.id, account_name="ajansen", email="a.jansen@cjib.example"),
        now=NOW,
    )
    assert victim is not None
    doxing_report(db_session, victim=victim.pseudonym, submitted_days_ago=13)

    sync_detection_lists(db_session, KEYRING, now=NOW)
    assert set(lists(db_session)["doxing_targets"]) == {"ajansen", "a.jansen@cjib.example"}
    sync_detection_lists(db_session, KEYRING, now=NOW + timedelta(days=2))
    assert lists(db_session)["doxing_targets"] == ()


def test_a_doxing_report_older_than_14_days_or_another_category_targets_no_one(db_session):
    victim = keep_identity(db_session, KEYRING, Person(account_name="pdevries"), now=NOW)
    assert victim is not None
    doxing_report(db_session, victim=victim.pseudonym, submitted_days_ago=15)

    sync_detection_lists(db_session, KEYRING, now=NOW)

    assert lists(db_session)["doxing_targets"] == ()


def test_the_audit_of_a_list_change_holds_counts_never_values(db_session):
    case = make_case(db_session, perpetrator=LOUD)
    activate(db_session, case, **contact_terms(contact_mode="written_only"))
    sync_detection_lists(db_session, KEYRING, now=NOW, actor=Actor.system())

    entries = db_session.scalars(
        select(AuditEntry).where(AuditEntry.action == "detection_list.set")
    ).all()
    assert {entry.target for entry in entries} == {f"detection_list:{name}" for name in LISTS}
    text = " ".join(entry.details for entry in entries)
    for value in ("jan@example.nl", "1234", "Vries", "CJIB", case.perpetrator):
        assert value not in text
    restricted = next(e for e in entries if e.target == "detection_list:contact_restricted")
    assert json.loads(restricted.details)["values"] == 3


def test_a_sync_with_nothing_changed_writes_no_audit_entry(db_session):
    sync_detection_lists(db_session, KEYRING, now=NOW)
    before = len(db_session.scalars(select(AuditEntry.id)).all())

    sync_detection_lists(db_session, KEYRING, now=NOW + timedelta(minutes=5))

    assert len(db_session.scalars(select(AuditEntry.id)).all()) == before


def test_the_job_ends_expired_measures_and_empties_their_lists(db_session):
    case = make_case(db_session, perpetrator=LOUD)
    activate(db_session, case)
    run = lists_job_run(lambda: KEYRING, timezone="Europe/Amsterdam")

    run(db_session, NOW + timedelta(days=1))
    assert lists(db_session)["banned_persons"] == (case.perpetrator,)
    run(db_session, NOW + timedelta(days=181))

    assert lists(db_session)["banned_persons"] == ()
    assert find_measures(db_session, status=MeasureStatus.ENDED)[0].end_reason == "expired"
