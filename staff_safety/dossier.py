"""The police dossier of a staff-safety case: what the police need for an aangifte, and nothing
that points at the victim's home.

``dossier_content`` reads the case into a frozen ``DossierContent`` (no database in the
layout); ``dossier_pdf.render_dossier`` lays it out; ``generate_dossier`` does both and
records the export like the incident report does: a custody entry ``listed_in_report`` on
each piece of evidence listed, a timeline entry ``dossier_exported`` and the audit entry
``staff_case.dossier_exported`` with the PDF's SHA-256.

What it holds: the report number, the incident reference, TLP, when it was made; the
organisation as the victim's domicile (ELA: the employer's address, never the victim's) and
its contact person; the police decision, the VPT/ELA flag, "aangifte onder nummer"; the facts
(category, location, channel, when, weapon, injury, absence); the timeline; the reporter's
statement, who else was there and what is known of the perpetrator; the evidence manifest
with SHA-256 hashes; the damage statement; the people by pseudonym and role.

Privacy: people are named by pseudonym only. The free texts are the reporter's own words, so
before they are printed every name, e-mail address, phone number and case reference the
vault holds for the people of the report is replaced by that person's pseudonym, and
an address around anything shaped like a Dutch postcode other than the organisation's is
blanked: a home address typed into a statement does not reach the police dossier. Timeline
actors and who uploaded a file are left out (the reporter may be either).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import Actor
from core import NotFound
from core.i18n import N_
from core.settings import Settings
from incidents.cases.models import Incident, IncidentType
from incidents.cases.timeline import entries
from incidents.evidence import ManifestEntry, manifest
from incidents.reports.pdf import record_export
from staff_safety.dossier_pdf import Translate, render_dossier
from staff_safety.models import CHANNEL_OF, Location, ReportPerson, StaffCase, StaffReport
from staff_safety.vault import identity_by_pseudonym, keyring_for, open_identity

# A Dutch postcode: four digits (no leading zero), an optional space, two capitals.
POSTCODE: Final = re.compile(r"\b[1-9][0-9]{3} ?[A-Z]{2}\b")
# An address around a postcode: "Dorpsstraat 1a, 1234 AB Ergens" (street and number before
# it, a town after it, each optional). Only what is anchored on a postcode can be found.
_ADDRESS: Final = re.compile(
    r"(?:\b[A-Z][^\s,\d]*(?:\s+[A-Z][^\s,\d]*)?\s+\d{1,5}(?:\s?[a-zA-Z]\b)?(?:[-/]\d+)?,?\s*)?"
    r"\b(?P<postcode>[1-9][0-9]{3} ?[A-Z]{2})\b"
    r"(?:\s+[A-Z][\w'-]+(?:[ -][A-Z][\w'-]+)?)?"
)
ADDRESS_REMOVED: Final = "[address removed]"
# Identifying values shorter than this are not searched for in free text (a two-letter
# "name" would blank half the statement).
_MIN_REDACTED: Final = 3
_REDACTED_FIELDS: Final = ("name", "email", "phone", "case_reference", "account_name")


@dataclass(frozen=True)
class TimelineLine:
    occurred_at: datetime
    kind: str
    details: str  # JSON of ids, states and counts (incidents.cases.timeline)


@dataclass(frozen=True)
class DossierPerson:
    pseudonym: str
    role: str  # staff_safety.models.PersonRole


@dataclass(frozen=True)
class DossierContent:
    """Everything the dossier prints, already free of names (see the module docstring)."""

    incident_id: int
    incident_reference: str
    report_number: str | None
    tlp: str
    generated_at: datetime
    timezone: str
    victim_pseudonym: str | None
    organisation_address: str  # "" when not configured: the PDF says so visibly
    organisation_contact: str
    police_decision: str | None
    ela_flag: bool
    police_filed_at: datetime | None
    police_registration_number: str | None
    police_unit: str
    category: str | None
    location: str | None
    channel: str | None
    occurred_at: datetime | None
    weapon: bool
    injury: bool
    absence: bool
    timeline: tuple[TimelineLine, ...]
    statement: str
    others_present: str
    perpetrator_description: str
    evidence: tuple[ManifestEntry, ...]
    damage_statement: str
    damage_amount_cents: int | None
    damage_recovered_cents: int | None
    people: tuple[DossierPerson, ...]
    redactions: int  # how many identifying values were replaced in the free texts


def dossier_content(
    session: Session, incident_id: int, *, settings: Settings, now: datetime
) -> DossierContent:
    """The dossier of a staff-safety case; ``NotFound`` for any other incident."""
    incident, case = _case(session, incident_id)
    report = session.get(StaffReport, case.report_id) if case.report_id is not None else None
    people = _people(session, report)
    redact = _Redactor(settings.organisation_address)
    if people:
        redact.learn(session, settings, people)
    return DossierContent(
        incident_id=incident.id,
        incident_reference=incident.reference,
        report_number=report.number if report else None,
        tlp=incident.tlp,
        generated_at=now,
        timezone=settings.timezone,
        victim_pseudonym=report.victim_pseudonym if report else None,
        organisation_address=settings.organisation_address.strip(),
        organisation_contact=settings.organisation_contact.strip(),
        police_decision=case.police_decision,
        ela_flag=bool(case.ela_flag),
        police_filed_at=case.police_filed_at,
        police_registration_number=case.police_registration_number,
        police_unit=redact(case.police_unit),
        category=report.category if report else None,
        location=report.location if report else None,
        channel=_channel(report.location if report else None),
        occurred_at=report.occurred_at if report else None,
        weapon=bool(report and report.weapon),
        injury=bool(report and report.injury),
        absence=bool(report and report.absence),
        timeline=tuple(
            TimelineLine(entry.occurred_at, entry.kind, entry.details)
            for entry in entries(session, incident.id)
        ),
        statement=redact(report.description if report else ""),
        others_present=redact(report.others_present if report else ""),
        perpetrator_description=redact(report.perpetrator_known if report else ""),
        evidence=tuple(manifest(session, incident.id)),
        damage_statement=redact(case.damage_statement),
        damage_amount_cents=case.damage_amount_cents,
        damage_recovered_cents=case.damage_recovered_cents,
        people=people,
        redactions=redact.count,
    )


def _case(session: Session, incident_id: int) -> tuple[Incident, StaffCase]:
    incident = session.get(Incident, incident_id)
    case = session.get(StaffCase, incident_id) if incident is not None else None
    if incident is None or case is None or incident.type != IncidentType.STAFF_SAFETY:
        raise NotFound(N_("There is no staff-safety case %(id)s."), id=incident_id)
    return incident, case


def _people(session: Session, report: StaffReport | None) -> tuple[DossierPerson, ...]:
    """Everyone in the report by pseudonym and role, the victim first, each role once."""
    if report is None:
        return ()
    found: list[tuple[str, str]] = [
        (role, pseudonym)
        for role, pseudonym in (
            ("victim", report.victim_pseudonym),
            ("reporter", report.reporter_pseudonym),
            ("perpetrator", report.perpetrator_pseudonym),
        )
        if pseudonym
    ]
    query = (
        select(ReportPerson.role, ReportPerson.pseudonym)
        .where(ReportPerson.report_id == report.id)
        .order_by(ReportPerson.id)
    )
    found.extend((row.role, row.pseudonym) for row in session.execute(query))
    unique = dict.fromkeys(found)
    return tuple(DossierPerson(pseudonym=pseudonym, role=role) for role, pseudonym in unique)


def _channel(location: str | None) -> str | None:
    try:
        return CHANNEL_OF[Location(location)].value if location else None
    except ValueError:
        return None


class _Redactor:
    """Replaces the people's identifying values by their pseudonyms, and foreign postcodes."""

    def __init__(self, organisation_address: str) -> None:
        self._allowed = {_postcode_key(code) for code in POSTCODE.findall(organisation_address)}
        self._values: list[tuple[str, str]] = []
        self.count = 0

    def learn(
        self, session: Session, settings: Settings, people: tuple[DossierPerson, ...]
    ) -> None:
        keyring = keyring_for(settings)
        for person in people:
            try:
                identity = identity_by_pseudonym(session, person.pseudonym)
            except NotFound:  # purged or never kept: nothing of it can be in the text
                continue
            opened = open_identity(keyring, identity)
            for field in _REDACTED_FIELDS:
                value = opened.get(field, "")
                if len(value) >= _MIN_REDACTED:
                    self._values.append((value, person.pseudonym))
        self._values.sort(key=lambda pair: len(pair[0]), reverse=True)  # longest first

    def __call__(self, text: str) -> str:
        for value, pseudonym in self._values:
            pattern = re.compile(re.escape(value), re.IGNORECASE)
            text, replaced = pattern.subn(pseudonym, text)
            self.count += replaced
        return _ADDRESS.sub(self._address, text)

    def _address(self, match: re.Match[str]) -> str:
        if _postcode_key(match.group("postcode")) in self._allowed:
            return match.group()
        self.count += 1
        return ADDRESS_REMOVED


def _postcode_key(code: str) -> str:
    return code.replace(" ", "")


def generate_dossier(
    session: Session,
    incident_id: int,
    *,
    settings: Settings,
    actor: Actor,
    now: datetime,
    language: str = "en",
    translate: Translate | None = None,
) -> bytes:
    """The police dossier as PDF bytes; the export is recorded (custody, timeline, audit)."""
    content = dossier_content(session, incident_id, settings=settings, now=now)
    document = render_dossier(content, language, translate=translate)
    _record_export(session, content, document, actor=actor, now=now)
    return document


def _record_export(
    session: Session, content: DossierContent, document: bytes, *, actor: Actor, now: datetime
) -> None:
    record_export(
        session,
        incident_id=content.incident_id,
        evidence_ids=[item.evidence_id for item in content.evidence],
        report_label=f"police dossier {content.incident_reference}",
        timeline_kind="dossier_exported",
        action="staff_case.dossier_exported",
        details={
            "reference": content.incident_reference,
            "report": content.report_number,
            "people": len(content.people),
            "redacted": content.redactions,
        },
        document=document,
        actor=actor,
        now=now,
    )
