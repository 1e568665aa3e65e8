"""The staff-threat rules (``detection_rules/packs/staff_safety.yml``): each loads, validates and
compiles, fires on events made by Wachter's real code (``report_document`` for reports, the
badge parser for door events, the console's own sign-in events) with the lists the measures
register really fills, and stays quiet on the near-miss. The 90-day window is also proven in
the service's streaming path, whose correlation state lives in the database.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sigma.correlations import SigmaCorrelationRule
from sqlalchemy import select

from access_control import Actor
from core import FixedClock
from detection_rules import DetectionConsumer
from detection_rules.correlation import CorrelationEngine, compile_correlation, suppressed_rules
from detection_rules.fields import event_time
from detection_rules.loading import load_rules
from detection_rules.matcher import Matcher, compile_rule, derived_fields
from detection_rules.models import Detection
from detection_rules.pipelines import default_pipeline
from detection_rules.service import get_lists, install_packs
from detection_rules.validation import validate_sources
from ingest import pipeline
from ingest.normalise import finish
from ingest.parsers.badge_csv import parser as badge_parser
from staff_safety.detection_feed import LISTS, sync_detection_lists
from staff_safety.measures import end_measure
from staff_safety.models import StaffReport
from staff_safety.report_events import record_report_event, report_document
from staff_safety.vault import Person, keep_identity
from tests.integration.test_rule_pack import Console, box, hasher  # noqa: F401 - fixtures
from tests.unit.staff_safety.test_detection_feed import LOUD, activate, doxing_report
from tests.unit.staff_safety.test_measures import KEYRING, NOW, contact_terms, make_case

PACK = Path(__file__).resolve().parents[2] / "detection_rules" / "packs" / "staff_safety.yml"
BADGE_MAPPING = Path(__file__).resolve().parents[2] / "docs" / "examples" / "badge-mapping.toml"
VICTIM = "P-7KQM-X3TD"
PERPETRATOR = "P-C4RN-9WHE"
NO_LISTS: dict[str, tuple[str, ...]] = dict.fromkeys(LISTS, ())


@functools.cache
def _compiled(lists: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[Any, ...]:
    given = dict(lists)
    sources = validate_sources(
        load_rules([PACK]), pipeline=default_pipeline(), lists=given, strict=True
    )
    assert [str(problem) for source in sources for problem in source.problems] == []
    loaded = [entry.rule for source in sources for entry in source.loaded]
    base = [
        compile_rule(rule, pipeline=default_pipeline(), lists=given)
        for rule in loaded
        if not isinstance(rule, SigmaCorrelationRule)
    ]
    correlations = tuple(
        compile_correlation(rule, pipeline=default_pipeline())
        for rule in loaded
        if isinstance(rule, SigmaCorrelationRule)
    )
    names = {rule.key: str(rule.name) for rule in (*base, *correlations)}
    return Matcher(base, derived=derived_fields()), correlations, names


def alerts(
    events: Iterable[dict[str, Any]], lists: Mapping[str, Iterable[str]] = NO_LISTS
) -> list[str]:
    """The names of the rules that alert on ``events`` (in time order) with these lists."""
    frozen = tuple(sorted((name, tuple(values)) for name, values in lists.items()))
    matcher, correlations, names = _compiled(frozen)
    engine, suppressed, fired = CorrelationEngine(correlations), suppressed_rules(correlations), []
    for index, event in enumerate(sorted(events, key=_time)):
        for rule in matcher.match(event):
            if rule.key not in suppressed:
                fired.append(names[rule.key])
            for hit in engine.observe(rule.key, event, time=_time(event), event_ref=index):
                if hit.correlation.key not in suppressed:
                    fired.append(names[hit.correlation.key])
    return fired


def _time(event: dict[str, Any]) -> datetime:
    moment = event_time(event)
    assert moment is not None
    return moment


def stored(document: dict[str, Any]) -> dict[str, Any]:
    record = finish(document, source="test", event_key="k", ingested=NOW)
    result: dict[str, Any] = orjson.loads(record.document)
    return result


def report(
    when: datetime,
    *,
    category: str = "verbal_abuse",
    location: str = "counter",
    victim: str | None = VICTIM,
    perpetrator: str | None = PERPETRATOR,
    weapon: bool = False,
) -> dict[str, Any]:
    row = StaffReport(
        number="MEL-2026-00042",
        status="submitted",
        reporter_pseudonym=victim or "P-AAAA-AAAA",
        victim_pseudonym=victim,
        perpetrator_pseudonym=perpetrator,
        occurred_at=when,
        location=location,
        category=category,
        weapon=weapon,
        injury=False,
        created_at=when,
        updated_at=when,
        submitted_at=when,
    )
    return stored(report_document(row, incident_reference="INC-2026-00042"))


def test_the_pack_loads_validates_and_every_title_is_in_the_readme():
    _matcher, correlations, names = _compiled(tuple(sorted(NO_LISTS.items())))
    readme = (PACK.parent / "README.md").read_text(encoding="utf-8")
    titles = [entry.rule.title for source in load_rules([PACK]) for entry in source.loaded]

    assert len(names) == len(titles) == 10
    assert [title for title in titles if title not in readme] == []
    assert {names[key] for key in suppressed_rules(correlations)} == {
        "wachter_staff_report_with_perpetrator",
        "wachter_staff_report_on_victim",
    }


# --- repeat perpetrator ------------------------------------------------------------------


def test_two_reports_on_one_perpetrator_within_90_days_are_a_repeat_perpetrator():
    fired = alerts([report(NOW), report(NOW + timedelta(days=89, hours=23))])

    assert fired == ["wachter_staff_repeat_perpetrator"]


def test_one_report_or_two_91_days_apart_or_two_perpetrators_are_no_repeat():
    assert alerts([report(NOW)]) == []
    assert alerts([report(NOW), report(NOW + timedelta(days=91))]) == []
    assert alerts([report(NOW), report(NOW, perpetrator="P-DDDD-EEEE")]) == []


def test_reports_without_a_known_perpetrator_are_not_counted_together():
    assert alerts([report(NOW, perpetrator=None), report(NOW, perpetrator=None)]) == []


# --- escalation --------------------------------------------------------------------------


def test_physical_violence_or_a_weapon_is_critical_on_the_first_report():
    assert alerts([report(NOW, category="physical_violence", perpetrator=None)]) == [
        "wachter_staff_physical_violence_or_weapon"
    ]
    assert alerts([report(NOW, category="threat_in_person", weapon=True, perpetrator=None)]) == [
        "wachter_staff_physical_violence_or_weapon"
    ]


def test_a_threat_without_a_weapon_is_no_escalation():
    assert alerts([report(NOW, category="threat_in_person", perpetrator=None)]) == []


# --- one employee, several channels ------------------------------------------------------


def test_one_employee_reached_through_two_channels_within_30_days_is_targeted():
    fired = alerts(
        [
            report(NOW, location="counter", perpetrator=None),
            report(NOW + timedelta(days=29), location="email", perpetrator=None),
        ]
    )

    assert fired == ["wachter_staff_victim_targeted_through_channels"]


def test_the_same_channel_twice_or_two_channels_31_days_apart_or_two_victims_are_nothing():
    counter_and_office = [
        report(NOW, location="counter", perpetrator=None),
        report(NOW + timedelta(days=1), location="office", perpetrator=None),  # in person too
    ]
    assert alerts(counter_and_office) == []
    far_apart = [
        report(NOW, location="counter", perpetrator=None),
        report(NOW + timedelta(days=31), location="phone", perpetrator=None),
    ]
    assert alerts(far_apart) == []
    two_victims = [
        report(NOW, location="counter", perpetrator=None),
        report(NOW, location="phone", victim="P-DDDD-EEEE", perpetrator=None),
    ]
    assert alerts(two_victims) == []


# --- persons under a measure, with the lists the register fills --------------------------


def badge_event(tmp_path: Path, holder: str, result: str = "Access Denied") -> dict[str, Any]:
    export = tmp_path / "visitors.csv"
    export.write_text(
        "Timestamp,Card Number,Cardholder,Reader,Area,Event,Panel\n"
        f"02/03/2026 11:00:00,V-0007,{holder},Visitor desk,Lobby,{result},P-01\n",
        encoding="utf-8",
    )
    [record] = badge_parser(BADGE_MAPPING).read_file(export, start=0, received=NOW)
    assert isinstance(record.result, dict)
    return stored(record.result)


def mail_from(address: str) -> dict[str, Any]:
    return stored(
        {
            "@timestamp": NOW.isoformat(),
            "event": {"category": ["email"], "action": "email-received"},
            "email": {"from": {"address": address}, "to": {"address": "balie@cjib.example"}},
        }
    )


def call_from(phone: str) -> dict[str, Any]:
    return stored(
        {
            "@timestamp": NOW.isoformat(),
            "event": {"category": ["network"], "action": "call-received"},
            "source": {"user": {"phone": phone}},
        }
    )


def test_a_banned_person_at_the_visitor_desk_or_named_in_a_new_report_raises_an_alert(
    db_session, tmp_path
):
    case = make_case(db_session, perpetrator=LOUD)
    activate(db_session, case)
    lists = get_lists(db_session)

    assert alerts([badge_event(tmp_path, "jan de vries")], lists) == [
        "wachter_staff_banned_person_at_the_door"
    ]
    assert alerts([badge_event(tmp_path, "CJIB-2026-123456", "Access Granted")], lists) == [
        "wachter_staff_banned_person_at_the_door"
    ]
    fired = alerts([report(NOW, perpetrator=case.perpetrator)], lists)
    assert fired == ["wachter_staff_banned_person_reported"]


def test_someone_else_or_a_person_whose_ban_ended_raises_nothing(db_session, tmp_path):
    case = make_case(db_session, perpetrator=LOUD)
    measure_id = activate(db_session, case)
    assert alerts([badge_event(tmp_path, "Piet Jansen")], get_lists(db_session)) == []

    end_measure(db_session, KEYRING, measure_id, reason="Opgeheven", actor=case.first, now=NOW)
    lists = get_lists(db_session)

    assert alerts([badge_event(tmp_path, "Jan de Vries")], lists) == []
    assert alerts([report(NOW, perpetrator=case.perpetrator)], lists) == []


def test_contact_by_a_person_under_a_contact_restriction_raises_an_alert(db_session):
    case = make_case(db_session, perpetrator=LOUD)
    activate(db_session, case, **contact_terms(contact_mode="written_only"))
    lists = get_lists(db_session)

    assert alerts([mail_from("Jan@Example.nl")], lists) == ["wachter_staff_restricted_contact"]
    assert alerts([call_from("+31612345678")], lists) == ["wachter_staff_restricted_contact"]
    assert alerts([mail_from("iemand@example.nl"), call_from("+31699999999")], lists) == []


# --- doxing and cyber signals --------------------------------------------------------------


def phishing_report(address: str, when: datetime = NOW) -> dict[str, Any]:
    return stored(
        {
            "@timestamp": when.isoformat(),
            "event": {"category": ["email"], "action": "phishing_reported"},
            "email": {"to": {"address": address}, "from": {"address": "it@c1jb.example"}},
        }
    )


@pytest.fixture
def console(db_session, hasher, box) -> Console:  # noqa: F811 - the imported fixtures
    return Console(db_session, hasher, box)


def test_failed_sign_ins_and_phishing_against_a_doxing_victim_raise_alerts(db_session, console):
    employee = console.user("ajansen")
    victim = _employee_identity(db_session, employee)
    doxing_report(db_session, victim=victim, submitted_days_ago=3)
    sync_detection_lists(db_session, KEYRING, now=NOW)
    lists = get_lists(db_session)
    console.password("ajansen", "fout wachtwoord", NOW, "198.51.100.7")

    fired = alerts(console.events(), lists)
    assert fired == ["wachter_staff_doxing_target_failed_sign_in"]
    assert alerts([phishing_report("A.Jansen@cjib.example")], lists) == [
        "wachter_staff_doxing_target_phishing"
    ]


def test_a_doxing_report_older_than_14_days_makes_failed_sign_ins_ordinary(db_session, console):
    employee = console.user("ajansen")
    victim = _employee_identity(db_session, employee)
    doxing_report(db_session, victim=victim, submitted_days_ago=15)
    sync_detection_lists(db_session, KEYRING, now=NOW)
    lists = get_lists(db_session)
    console.password("ajansen", "fout wachtwoord", NOW, "198.51.100.7")

    assert alerts(console.events(), lists) == []
    assert alerts([phishing_report("a.jansen@cjib.example")], lists) == []


def _employee_identity(session: Any, employee: Any) -> str:
    identity = keep_identity(
        session,
        KEYRING,
        Person(user_id=employee.id, account_name=employee.username, email="a.jansen@cjib.example"),
        now=NOW,
    )
    assert identity is not None
    return identity.pseudonym


# --- the 90-day window in the service (state in the database) ------------------------------


class _Clocked:
    """Reports stored through the real ``record_report_event`` and delivered at their time."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.consumer = DetectionConsumer(clock=FixedClock(NOW))
        install_packs(session, actor=Actor.system(), now=NOW - timedelta(days=1))
        sync_detection_lists(session, KEYRING, now=NOW - timedelta(days=1))

    def report_at(self, when: datetime, number: int) -> None:
        row = StaffReport(
            number=f"MEL-2026-{number:05d}", status="submitted", reporter_pseudonym=VICTIM,
            victim_pseudonym=VICTIM, perpetrator_pseudonym=PERPETRATOR, occurred_at=when,
            location="counter", category="verbal_abuse", created_at=when, updated_at=when,
            submitted_at=when,
        )  # fmt: skip
        self.session.add(row)
        self.session.flush()
        record_report_event(self.session, row, incident_reference=None, now=when)
        # A new consumer each time: what it knows of the first report is only in the table.
        self.consumer = DetectionConsumer(clock=FixedClock(when + timedelta(minutes=1)))
        while pipeline.deliver(self.session, self.consumer, now=when + timedelta(minutes=1)):
            pass
        self.session.flush()

    def fired(self) -> list[str]:
        return list(self.session.scalars(select(Detection.title).order_by(Detection.id)))


def test_the_service_remembers_a_perpetrator_for_90_days_across_restarts(db_session):
    service = _Clocked(db_session)
    service.report_at(NOW, 1)
    service.report_at(NOW + timedelta(days=89), 2)

    assert service.fired() == ["Repeat perpetrator of aggression against staff"]


def test_the_service_forgets_a_perpetrator_after_90_days(db_session):
    service = _Clocked(db_session)
    service.report_at(NOW, 1)
    service.report_at(NOW + timedelta(days=91), 2)

    assert service.fired() == []
