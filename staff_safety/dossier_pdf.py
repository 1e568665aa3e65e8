"""The police dossier's layout: ``render_dossier(content, language)`` → PDF bytes.

The page set-up is the incident report's (``incidents.reports.pdf.ReportDocument``): A4,
DejaVu Sans, the TLP label on every page, control and bidirectional-override characters
dropped (a file named with U+202E cannot reorder what the police read). Times are printed in
the organisation's time zone with its abbreviation. Every literal is English marked with
``N_`` and passed through ``translate`` (the web layer hands in flask_babel's ``gettext``,
so a Dutch reader gets a Dutch dossier); ``language`` goes into the PDF's metadata.

Records nothing: ``staff_safety.dossier.generate_dossier`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import orjson
from fpdf.enums import XPos, YPos

from core.i18n import N_
from incidents.reports.labels import TIMELINE
from incidents.reports.pdf import FONT, ReportDocument, evidence_section
from staff_safety.labels import CATEGORIES, CHANNELS, LOCATIONS

if TYPE_CHECKING:
    from staff_safety.dossier import DossierContent

Translate = Callable[[str], str]

POLICE_DECISIONS: Mapping[str, str] = {
    "victim_with_support": N_("the victim reports to the police, supported by the employer"),
    "employer_on_behalf": N_("the employer reports to the police"),
    "notification_only": N_("notification to the police only"),
    "none": N_("no police involvement"),
}
ROLES: Mapping[str, str] = {
    "reporter": N_("reporter"),
    "victim": N_("victim"),
    "witness": N_("witness"),
    "perpetrator": N_("perpetrator"),
}
DOSSIER_TIMELINE: Mapping[str, str] = {
    **TIMELINE,
    "dossier_exported": N_("Police dossier exported"),
    "legal_hold_set": N_("Legal hold set"),
    "legal_hold_released": N_("Legal hold released"),
    "report_purged": N_("Report purged"),
}
NOT_CONFIGURED = N_(
    "Not configured: set WACHTER_ORGANISATION_ADDRESS and WACHTER_ORGANISATION_CONTACT."
)


def _unchanged(text: str) -> str:
    return text


def render_dossier(
    content: DossierContent, language: str = "en", *, translate: Translate | None = None
) -> bytes:
    """Lay out ``content`` as PDF bytes (deterministic for the same content and language)."""
    t = translate or _unchanged
    zone = ZoneInfo(content.timezone)
    number = content.report_number or content.incident_reference
    pdf = ReportDocument(
        heading=f"{t(N_('Police dossier'))} {number}",
        tlp=content.tlp,
        footer=t(N_("Police dossier %(number)s, generated %(time)s"))
        % {"number": number, "time": _when(content.generated_at, zone)},
        translate=t,
    )
    pdf.set_creation_date(content.generated_at)
    pdf.set_creator("Wachter")
    pdf.set_lang(language)
    pdf.set_title(pdf.clean(f"{t(N_('Police dossier'))} {number}"))
    pdf.add_page()
    _title_page(pdf, content, zone)
    _summary(pdf, content, zone)
    _timeline(pdf, content, zone)
    _statements(pdf, content)
    _evidence(pdf, content, zone)
    _damage(pdf, content)
    _people(pdf, content)
    return bytes(pdf.output())


def _title_page(pdf: ReportDocument, content: DossierContent, zone: ZoneInfo) -> None:
    t = pdf.translate
    pdf.set_font(FONT, "B", 16)
    pdf.multi_cell(0, 8, pdf.clean(f"{t(N_('Police dossier'))} {content.report_number or ''}"))
    pdf.ln(2)
    not_configured = t(NOT_CONFIGURED)
    facts = [
        (N_("Report number"), content.report_number or "—"),
        (N_("Incident reference"), content.incident_reference),
        (N_("TLP"), f"TLP:{content.tlp.upper()}"),
        (N_("Generated"), _when(content.generated_at, zone)),
        (
            N_("Report under number (aangifte onder nummer)"),
            t(N_("the victim is identified as %(pseudonym)s"))
            % {"pseudonym": content.victim_pseudonym or "—"},
        ),
        (
            N_("Domicile (the organisation's address)"),
            content.organisation_address or not_configured,
        ),
        (N_("Contact person"), content.organisation_contact or not_configured),
        (N_("Police decision"), _label(t, POLICE_DECISIONS, content.police_decision)),
        (N_("VPT/ELA priority"), t(N_("yes")) if content.ela_flag else t(N_("no"))),
        (N_("Filed with the police"), _when(content.police_filed_at, zone)),
        (N_("Police registration number"), content.police_registration_number or "—"),
        (N_("Police unit"), content.police_unit or "—"),
    ]
    pdf.rows((N_("Field"), N_("Value")), [(t(name), value) for name, value in facts], (2, 3))
    pdf.paragraph(
        t(
            N_(
                "The victim's home address is not part of this dossier: the organisation's "
                "address is the domicile for this report."
            )
        )
    )


def _summary(pdf: ReportDocument, content: DossierContent, zone: ZoneInfo) -> None:
    t = pdf.translate
    pdf.section(N_("Summary"))
    facts = [
        (N_("Category"), _label(t, CATEGORIES, content.category)),
        (N_("Location"), _label(t, LOCATIONS, content.location)),
        (N_("Channel"), _label(t, CHANNELS, content.channel)),
        (N_("When"), _when(content.occurred_at, zone)),
        (N_("Weapon involved"), _yes_no(t, content.weapon)),
        (N_("Injury"), _yes_no(t, content.injury)),
        (N_("Absence from work"), _yes_no(t, content.absence)),
    ]
    pdf.rows((N_("Field"), N_("Value")), [(t(name), value) for name, value in facts], (2, 3))


def _timeline(pdf: ReportDocument, content: DossierContent, zone: ZoneInfo) -> None:
    t = pdf.translate
    pdf.section(N_("Timeline"))
    pdf.rows(
        (N_("Time"), N_("What"), N_("Details")),
        [
            (
                _when(line.occurred_at, zone),
                _label(t, DOSSIER_TIMELINE, line.kind),
                _details(line.details),
            )
            for line in content.timeline
        ],
        (3, 4, 6),
    )


def _statements(pdf: ReportDocument, content: DossierContent) -> None:
    pdf.section(N_("Statements"))
    for title, text in (
        (N_("Statement of the reporter"), content.statement),
        (N_("Others present"), content.others_present),
        (N_("What is known of the perpetrator"), content.perpetrator_description),
    ):
        pdf.set_font(FONT, "B", 10)
        pdf.cell(0, 6, pdf.clean(pdf.translate(title)), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.paragraph(text.strip() or "—")
        pdf.ln(1)


def _evidence(pdf: ReportDocument, content: DossierContent, zone: ZoneInfo) -> None:
    evidence_section(
        pdf,
        content.evidence,
        added_heading=N_("Added"),
        added=lambda moment: _when(moment, zone),
        with_uploader=False,  # the uploader may be the reporter
    )


def _damage(pdf: ReportDocument, content: DossierContent) -> None:
    t = pdf.translate
    pdf.section(N_("Damage"))
    pdf.paragraph(content.damage_statement.strip() or "—")
    facts = [
        (N_("Damage amount"), _euros(content.damage_amount_cents)),
        (N_("Recovered"), _euros(content.damage_recovered_cents)),
    ]
    pdf.rows((N_("Field"), N_("Value")), [(t(name), value) for name, value in facts], (2, 3))


def _people(pdf: ReportDocument, content: DossierContent) -> None:
    t = pdf.translate
    pdf.section(N_("People (by pseudonym)"))
    pdf.rows(
        (N_("Pseudonym"), N_("Role")),
        [(person.pseudonym, _label(t, ROLES, person.role)) for person in content.people],
        (2, 3),
    )


def _label(translate: Translate, labels: Mapping[str, str], value: str | None) -> str:
    if not value:
        return "—"
    return translate(labels[value]) if value in labels else value.replace("_", " ")


def _yes_no(translate: Translate, value: bool) -> str:
    return translate(N_("yes")) if value else translate(N_("no"))


def _euros(cents: int | None) -> str:
    if cents is None:
        return "—"
    return f"EUR {cents // 100}.{cents % 100:02d}"


def _when(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return "—"
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".rstrip()


def _details(text: str) -> str:
    """A timeline entry's JSON details (ids, states, counts) as ``key: value`` text."""
    try:
        details = orjson.loads(text)
    except orjson.JSONDecodeError:
        return ""
    if not isinstance(details, dict):
        return ""
    return ", ".join(f"{key}: {_value(value)}" for key, value in details.items())


def _value(value: object) -> str:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return " ".join(str(item) for item in value)
    return "—" if value is None else str(value)
