"""The police dossier: rendered to PDF and read back, it names the organisation as domicile,
the victim by pseudonym, and holds no name, e-mail, phone or postcode of the victim.

The case is built with the real services (``open_case_for_report``, ``keep_identity``,
``add_evidence``) on the real database (SQLite and PostgreSQL); the report row is written
directly. ``submitted_report`` is shared with the statistics and retention tests.
"""

from __future__ import annotations

import io
import itertools
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import Actor
from access_control.models import AuditEntry
from core import NotFound, Settings
from incidents.cases.models import Incident, IncidentType, TimelineEntry
from incidents.cases.service import create_incident
from incidents.evidence import CustodyEntry, add_evidence
from staff_safety.cases import open_case_for_report
from staff_safety.dossier import dossier_content, generate_dossier, render_dossier
from staff_safety.models import ReportPerson, ReportStatus, StaffCase, StaffReport
from staff_safety.vault import Person, keep_identity, keyring_for
from tests.support.pdf import pdf_text

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OFFICER = Actor(name="officier", user_id=1, ip="192.0.2.10")
ORGANISATION = "Postbus 100, 2500 AC Den Haag"
CONTACT = "Bureau Integriteit en Veiligheid, 070 123 4567"
VICTIM = Person(
    name="Anna Jansen", email="anna.jansen@example.nl", phone="06 9876 5432", user_id=41
)
POSTCODE = re.compile(r"\b[1-9][0-9]{3} ?[A-Z]{2}\b")
HOSTILE = (
    "Ik, Anna Jansen (anna.jansen@example.nl, 06 9876 5432), woon op Dorpsstraat 1, "
    '1234 AB Ergens. <script>alert(1)</script> {{7*7}} \u202egnirts\u202c =HYPERLINK("x")'
)
_numbers = itertools.count(1)


def submitted_report(
    session: Session,
    settings: Settings,
    *,
    category: str = "threat_email",
    location: str = "email",
    submitted_at: datetime = NOW,
    victim: Person | None = VICTIM,
    perpetrator: Person | None = None,
    description: str = "Dreigende e-mail ontvangen.",
    **fields: object,
) -> tuple[StaffReport, Incident, StaffCase]:
    """A submitted report with its case, the victim (also the reporter) in the vault."""
    keyring = keyring_for(settings)
    victim_identity = keep_identity(session, keyring, victim, now=submitted_at) if victim else None
    perpetrator_identity = (
        keep_identity(session, keyring, perpetrator, now=submitted_at) if perpetrator else None
    )
    number = next(_numbers)
    report = StaffReport(
        number=f"MEL-{submitted_at.year}-{number:05d}",
        status=ReportStatus.SUBMITTED.value,
        reporter_pseudonym=victim_identity.pseudonym if victim_identity else "P-AAAA-AAAA",
        victim_pseudonym=victim_identity.pseudonym if victim_identity else None,
        perpetrator_pseudonym=perpetrator_identity.pseudonym if perpetrator_identity else None,
        occurred_at=submitted_at - timedelta(hours=2),
        location=location,
        category=category,
        description=description,
        created_at=submitted_at,
        updated_at=submitted_at,
        submitted_at=submitted_at,
        **fields,
    )
    session.add(report)
    session.flush()
    for role, identity in (("victim", victim_identity), ("perpetrator", perpetrator_identity)):
        if identity is not None:
            session.add(ReportPerson(report_id=report.id, role=role, pseudonym=identity.pseudonym))
    incident, case = open_case_for_report(session, report, actor=OFFICER, now=submitted_at)
    return report, incident, case


@pytest.fixture
def dossier_settings(settings: Settings) -> Settings:
    return replace(settings, organisation_address=ORGANISATION, organisation_contact=CONTACT)


def _evidence(session: Session, settings: Settings, incident_id: int, name: str) -> int:
    return add_evidence(
        session,
        incident_id=incident_id,
        stream=io.BytesIO(b"%PDF-1.7\n% a letter\n%%EOF\n"),
        filename=name,
        description="",
        actor=OFFICER,
        now=NOW,
        data_dir=settings.data_dir,
        max_bytes=1024 * 1024,
    ).id


def test_the_dossier_names_the_organisation_and_the_victim_only_by_pseudonym(
    db_session: Session, dossier_settings: Settings
) -> None:
    report, incident, case = submitted_report(db_session, dossier_settings, description=HOSTILE)
    case.police_decision = "employer_on_behalf"
    case.ela_flag = True
    case.police_registration_number = "PL0900-2026123456"
    case.damage_statement = "Bril kapot; contact via anna.jansen@example.nl"
    case.damage_amount_cents = 34950
    _evidence(db_session, dossier_settings, incident.id, "brief\u202efdp.exe.pdf")

    document = generate_dossier(
        db_session, incident.id, settings=dossier_settings, actor=OFFICER, now=NOW
    )
    text = pdf_text(document)

    flat = " ".join(text.split())
    assert ORGANISATION in flat
    assert CONTACT in flat
    assert report.victim_pseudonym in flat
    assert report.number in flat
    assert incident.reference in flat
    assert "PL0900-2026123456" in flat
    assert "EUR 349.50" in flat
    for secret in ("Anna", "Jansen", "anna.jansen", "9876", "Dorpsstraat 1" + ", 1234"):
        assert secret not in flat
    assert set(POSTCODE.findall(flat)) == {"2500 AC"}
    assert "\u202e" not in text
    assert "<script>alert(1)</script>" in flat


def test_generating_the_dossier_records_custody_timeline_and_audit(
    db_session: Session, dossier_settings: Settings
) -> None:
    _report, incident, _case = submitted_report(db_session, dossier_settings)
    evidence_id = _evidence(db_session, dossier_settings, incident.id, "brief.pdf")

    document = generate_dossier(
        db_session, incident.id, settings=dossier_settings, actor=OFFICER, now=NOW
    )

    custody = db_session.scalars(
        select(CustodyEntry.action).where(CustodyEntry.evidence_id == evidence_id)
    ).all()
    assert custody == ["received", "listed_in_report"]
    kinds = db_session.scalars(
        select(TimelineEntry.kind).where(TimelineEntry.incident_id == incident.id)
    ).all()
    assert kinds[-1] == "dossier_exported"
    audit = db_session.scalars(
        select(AuditEntry).where(AuditEntry.action == "staff_case.dossier_exported")
    ).one()
    assert audit.target == f"incident:{incident.id}"
    assert '"evidence_listed":1' in audit.details
    assert "Anna" not in audit.details
    assert document.startswith(b"%PDF-")


def test_an_unset_organisation_is_printed_as_not_configured(
    db_session: Session, settings: Settings
) -> None:
    _report, incident, _case = submitted_report(db_session, settings)

    content = dossier_content(db_session, incident.id, settings=settings, now=NOW)
    text = " ".join(pdf_text(render_dossier(content, "en")).split())

    assert content.organisation_address == ""
    assert "Not configured: set WACHTER_ORGANISATION_ADDRESS" in text


@pytest.mark.parametrize(
    ("statement", "kept"),
    [
        ("Hij stond bij Kerkweg 12, 3581 XK Utrecht te wachten.", "Hij stond bij"),
        ("Adres: Lange Voorhout 9-11, 2514EA Den Haag.", "Adres:"),
        ("Postcode 1012 AB, verder niets.", "verder niets."),
        ("Brief naar Postbus 100, 2500 AC Den Haag gestuurd.", "2500 AC Den Haag"),
    ],
)
def test_addresses_around_a_postcode_are_removed_from_the_statement_except_the_organisation(
    db_session: Session, dossier_settings: Settings, statement: str, kept: str
) -> None:
    _report, incident, _case = submitted_report(db_session, dossier_settings, description=statement)

    content = dossier_content(db_session, incident.id, settings=dossier_settings, now=NOW)

    assert kept in content.statement
    assert set(POSTCODE.findall(content.statement)) <= {"2500 AC"}
    for street in ("Kerkweg", "Voorhout", "Utrecht"):
        assert street not in content.statement


def test_the_people_are_listed_by_pseudonym_and_role_and_their_identifiers_replaced(
    db_session: Session, dossier_settings: Settings
) -> None:
    perpetrator = Person(name="Kees Boos", case_reference="CJIB-2026-777777")
    report, incident, _case = submitted_report(
        db_session,
        dossier_settings,
        perpetrator=perpetrator,
        perpetrator_known="Kees Boos, dossier CJIB-2026-777777",
    )

    content = dossier_content(db_session, incident.id, settings=dossier_settings, now=NOW)

    roles = {(person.role, person.pseudonym) for person in content.people}
    assert ("victim", report.victim_pseudonym) in roles
    assert ("perpetrator", report.perpetrator_pseudonym) in roles
    assert content.perpetrator_description == (
        f"{report.perpetrator_pseudonym}, dossier {report.perpetrator_pseudonym}"
    )


def test_the_dossier_is_printed_in_the_readers_language(
    db_session: Session, dossier_settings: Settings
) -> None:
    _report, incident, _case = submitted_report(db_session, dossier_settings)
    dutch = {"Police dossier": "Politiedossier", "Statement of the reporter": "Verklaring"}
    content = dossier_content(db_session, incident.id, settings=dossier_settings, now=NOW)

    text = pdf_text(render_dossier(content, "nl", translate=lambda text: dutch.get(text, text)))

    assert "Politiedossier" in text
    assert "Verklaring" in text
    assert "Statement of the reporter" not in text


def test_only_a_staff_safety_case_has_a_dossier(
    db_session: Session, dossier_settings: Settings
) -> None:
    cyber = create_incident(
        db_session,
        title="Phishing",
        incident_type=IncidentType.CYBER,
        severity="high",
        actor=OFFICER,
        now=NOW,
    )

    for incident_id in (cyber.id, 999_999):
        with pytest.raises(NotFound):
            dossier_content(db_session, incident_id, settings=dossier_settings, now=NOW)
