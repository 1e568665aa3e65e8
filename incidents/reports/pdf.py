"""The incident report as a PDF: summary, timeline, tasks, alerts, entities and the evidence
manifest with SHA-256 hashes, for people outside the console (management, the police, an
auditor).

fpdf2 lays it out in DejaVu Sans, vendored in ``fonts/`` (with its licence), so Dutch
text, names with diacritics and most scripts print as written; a character the font lacks
becomes U+FFFD instead of breaking the document. Control and bidirectional-override
characters are dropped: a title cannot reorder what a reader sees. The TLP label is
printed in its colours on black at the top of every page; the footer says when the report
was made, by whom, and the page.

Every literal is English marked with ``N_`` and passed through ``translate`` (the web
layer hands in flask_babel's ``gettext``, so a Dutch reader gets a Dutch report).
Exporting is recorded: a custody entry ``listed_in_report`` on each piece of evidence
listed, a timeline entry ``report_exported`` and the audit entry
``incident.report_exported`` with the PDF's SHA-256.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import TTFFont
from sqlalchemy.orm import Session

from access_control import Actor, record_audit
from core.i18n import N_
from incidents.cases.timeline import add_entry
from incidents.evidence import ManifestEntry, record_listed_in_report
from incidents.reports import labels
from incidents.reports.content import ReportContent, report_content

Translate = Callable[[str], str]
FONT_DIRECTORY = Path(__file__).parent / "fonts"
FONT = "DejaVu"
REPLACEMENT = "\ufffd"
# TLP 2.0 (FIRST): the label in its colour on a black background.
TLP_COLOURS: dict[str, tuple[int, int, int]] = {
    "clear": (255, 255, 255),
    "green": (51, 255, 0),
    "amber": (255, 192, 0),
    "amber+strict": (255, 192, 0),
    "red": (255, 43, 43),
}
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def _unchanged(text: str) -> str:
    return text


def incident_report_pdf(
    session: Session,
    incident_id: int,
    *,
    actor: Actor,
    now: datetime,
    translate: Translate = _unchanged,
    compress: bool = True,
) -> bytes:
    """The report of one incident as PDF bytes; the export is recorded (custody, audit)."""
    content = report_content(session, incident_id)
    document = render(content, actor=actor, now=now, translate=translate, compress=compress)
    _record_export(session, content, document, actor=actor, now=now)
    return document


def render(
    content: ReportContent,
    *,
    actor: Actor,
    now: datetime,
    translate: Translate = _unchanged,
    compress: bool = True,
) -> bytes:
    """Lay out ``content``; records nothing (``incident_report_pdf`` does)."""
    incident = content.incident
    pdf = ReportDocument(
        heading=f"{translate(N_('Incident report'))} {incident.reference}",
        tlp=incident.tlp,
        footer=translate(N_("Generated %(time)s by %(actor)s"))
        % {"time": when(now), "actor": actor.name},
        translate=translate,
    )
    pdf.set_compression(compress)
    pdf.set_creation_date(now)
    pdf.set_creator("Wachter")
    pdf.set_title(pdf.clean(f"{incident.reference}: {incident.title}"))
    pdf.add_page()
    _summary(pdf, content)
    _timeline(pdf, content)
    _tasks(pdf, content)
    _alerts(pdf, content)
    _entities(pdf, content)
    _evidence(pdf, content)
    return bytes(pdf.output())


class ReportDocument(FPDF):
    """A4 pages with the TLP header and the generated-by footer, and a few layout helpers."""

    def __init__(self, *, heading: str, tlp: str, footer: str, translate: Translate) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.translate = translate
        self.add_font(FONT, "", str(FONT_DIRECTORY / "DejaVuSans.ttf"))
        self.add_font(FONT, "B", str(FONT_DIRECTORY / "DejaVuSans-Bold.ttf"))
        self._covered = _covered_characters(self)
        self._heading = self.clean(heading)
        self._tlp = tlp
        self._footer = self.clean(footer)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(15, 15, 15)

    def clean(self, text: str) -> str:
        """Printable text: no control or direction characters, none the font lacks."""
        characters = []
        for character in text.replace("\r\n", "\n").replace("\t", " "):
            if character == "\n":
                characters.append(character)
            elif character in _BIDI or unicodedata.category(character) == "Cc":
                continue
            else:
                characters.append(character if character in self._covered else REPLACEMENT)
        return "".join(characters)

    def header(self) -> None:
        label = f"TLP:{self._tlp.upper()}"
        self.set_font(FONT, "B", 11)
        width = self.get_string_width(label) + 8
        self.set_xy(self.w - self.r_margin - width, 7)
        self.set_fill_color(0, 0, 0)
        self.set_text_color(*TLP_COLOURS.get(self._tlp, (255, 255, 255)))
        self.cell(width, 8, label, fill=True, align="C")
        self.set_text_color(0, 0, 0)
        self.set_font(FONT, "", 9)
        self.set_xy(self.l_margin, 7)
        self.cell(self.epw - width - 4, 8, self._heading)
        self.set_y(19)

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font(FONT, "", 8)
        self.set_text_color(80, 80, 80)
        page = self.translate(N_("Page %(page)s of %(pages)s")) % {
            "page": self.page_no(),
            "pages": self.str_alias_nb_pages,
        }
        self.cell(self.epw * 0.75, 6, self._footer)
        self.cell(self.epw * 0.25, 6, page, align="R")
        self.set_text_color(0, 0, 0)

    def section(self, title: str) -> None:
        self.ln(4)
        self.set_font(FONT, "B", 13)
        self.cell(0, 8, self.clean(self.translate(title)), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FONT, "", 9)

    def paragraph(self, text: str) -> None:
        self.set_font(FONT, "", 9)
        self.multi_cell(0, 5, self.clean(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def nothing(self) -> None:
        self.paragraph(self.translate(N_("None.")))

    def rows(
        self, headings: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[int]
    ) -> None:
        """A table with translated headings, or "None." when there are no rows."""
        if not rows:
            self.nothing()
            return
        self.set_font(FONT, "", 8)
        with self.table(col_widths=tuple(widths), text_align="LEFT", line_height=4.5) as table:
            heading_row = table.row()
            for heading in headings:
                heading_row.cell(self.clean(self.translate(heading)))
            for values in rows:
                row = table.row()
                for value in values:
                    row.cell(self.clean(value))


def _summary(pdf: ReportDocument, content: ReportContent) -> None:
    incident, t = content.incident, pdf.translate
    pdf.set_font(FONT, "B", 16)
    pdf.multi_cell(0, 8, pdf.clean(f"{incident.reference}: {incident.title}"))
    pdf.ln(1)
    pdf.set_font(FONT, "B", 10)
    meaning = labels.tlp_meaning(incident.tlp)  # gettext("") would be the catalogue header
    pdf.cell(0, 6, f"TLP:{incident.tlp.upper()}  {t(meaning) if meaning else ''}".rstrip())
    pdf.ln(8)
    facts = [
        (N_("Reference"), incident.reference),
        (N_("Title"), incident.title),
        (N_("Type"), t(labels.label(labels.TYPES, incident.type))),
        (N_("Severity"), t(labels.label(labels.SEVERITIES, incident.severity))),
        (N_("TLP"), f"TLP:{incident.tlp.upper()}"),
        (N_("State"), t(labels.label(labels.STATES, incident.state))),
        (N_("Assignee"), content.assignee or "—"),
        (N_("Reviewer"), content.reviewer or "—"),
        (N_("Created"), f"{when(incident.created_at)} ({incident.created_by})"),
        (N_("Closed"), when(incident.closed_at)),
        (N_("Resolution"), _resolution(t, incident.resolution)),
    ]
    pdf.rows((N_("Field"), N_("Value")), [(t(name), value) for name, value in facts], (1, 3))
    pdf.section(N_("Summary"))
    pdf.paragraph(incident.summary or "—")
    pdf.section(N_("Description"))
    pdf.paragraph(incident.description or "—")


def _timeline(pdf: ReportDocument, content: ReportContent) -> None:
    t = pdf.translate
    pdf.section(N_("Timeline"))
    pdf.rows(
        (N_("Time (UTC)"), N_("Who"), N_("What"), N_("Details")),
        [
            (
                when(entry.occurred_at),
                entry.actor,
                t(labels.label(labels.TIMELINE, entry.kind)),
                _details(entry.details),
            )
            for entry in content.timeline
        ],
        (3, 3, 3, 5),
    )


def _tasks(pdf: ReportDocument, content: ReportContent) -> None:
    t = pdf.translate
    pdf.section(N_("Tasks"))
    pdf.rows(
        (N_("Task"), N_("Status"), N_("Assignee"), N_("Due (UTC)"), N_("Completed (UTC)")),
        [
            (
                task.title,
                t(labels.label(labels.TASK_STATUSES, task.status)),
                task.assignee or "—",
                when(task.due_at),
                when(task.completed_at),
            )
            for task in content.tasks
        ],
        (5, 2, 3, 3, 3),
    )


def _alerts(pdf: ReportDocument, content: ReportContent) -> None:
    t = pdf.translate
    pdf.section(N_("Alerts"))
    pdf.rows(
        (N_("Alert"), N_("Rule"), N_("Severity"), N_("Count"), N_("First seen"), N_("Last seen")),
        [
            (
                alert.title,
                alert.rule_key,
                t(labels.label(labels.SEVERITIES, alert.severity)),
                str(alert.count),
                when(alert.first_seen),
                when(alert.last_seen),
            )
            for alert in content.alerts
        ],
        (4, 3, 2, 2, 3, 3),
    )


def _entities(pdf: ReportDocument, content: ReportContent) -> None:
    t = pdf.translate
    pdf.section(N_("Entities"))
    pdf.rows(
        (N_("Kind"), N_("Value")),
        [(t(labels.label(labels.ENTITY_KINDS, kind)), value) for kind, value in content.entities],
        (1, 3),
    )


def _evidence(pdf: ReportDocument, content: ReportContent) -> None:
    evidence_section(
        pdf, content.evidence, added_heading=N_("Added (UTC)"), added=when, with_uploader=True
    )


def evidence_section(
    pdf: ReportDocument,
    entries: Sequence[ManifestEntry],
    *,
    added_heading: str,
    added: Callable[[datetime | None], str],
    with_uploader: bool,
) -> None:
    """The evidence manifest: each file's number, name, type, size, (uploader,) time added and
    SHA-256. The police dossier leaves the uploader out: it may be the reporter."""
    t = pdf.translate
    pdf.section(N_("Evidence"))
    pdf.paragraph(
        t(
            N_(
                "Each file's SHA-256 was computed when it arrived; a copy whose hash differs "
                "is not the file Wachter received."
            )
        )
    )
    if not entries:
        pdf.nothing()
        return
    headings = [N_("No."), N_("File"), N_("Type"), N_("Size")]
    widths = [1, 5, 4, 2]
    if with_uploader:
        headings.append(N_("Added by"))
        widths.append(3)
    headings.append(added_heading)
    widths.append(3)
    pdf.set_font(FONT, "", 8)
    with pdf.table(col_widths=tuple(widths), text_align="LEFT", line_height=4.5) as table:
        heading_row = table.row()
        for heading in headings:
            heading_row.cell(pdf.clean(t(heading)))
        for item in entries:
            row = table.row()
            values = [str(item.evidence_id), item.name, item.media_type, f"{item.size} B"]
            if with_uploader:
                values.append(item.uploaded_by)
            values.append(added(item.uploaded_at))
            for value in values:
                row.cell(pdf.clean(value))
            table.row().cell(f"SHA-256: {item.sha256}", colspan=len(headings))


def _record_export(
    session: Session, content: ReportContent, document: bytes, *, actor: Actor, now: datetime
) -> None:
    incident = content.incident
    record_export(
        session,
        incident_id=incident.id,
        evidence_ids=[item.evidence_id for item in content.evidence],
        report_label=incident.reference,
        timeline_kind="report_exported",
        action="incident.report_exported",
        details={"reference": incident.reference},
        document=document,
        actor=actor,
        now=now,
    )


def record_export(
    session: Session,
    *,
    incident_id: int,
    evidence_ids: list[int],
    report_label: str,
    timeline_kind: str,
    action: str,
    details: dict[str, str | int | None],
    document: bytes,
    actor: Actor,
    now: datetime,
) -> None:
    """What exporting a document about an incident leaves: each listed file's custody entry,
    a timeline entry and an audit entry with the document's SHA-256 (the police dossier too)."""
    record_listed_in_report(
        session,
        evidence_ids,
        report=f"{report_label} {now.astimezone(UTC).isoformat()}",
        actor=actor,
        now=now,
    )
    add_entry(
        session,
        incident_id=incident_id,
        kind=timeline_kind,
        actor=actor.name,
        now=now,
        details={"evidence_listed": len(evidence_ids)},
    )
    record_audit(
        session,
        actor=actor,
        action=action,
        target=f"incident:{incident_id}",
        outcome="success",
        now=now,
        details={
            **details,
            "evidence_listed": len(evidence_ids),
            "sha256": hashlib.sha256(document).hexdigest(),
        },
    )


def _resolution(translate: Translate, resolution: str | None) -> str:
    return translate(labels.label(labels.RESOLUTIONS, resolution)) if resolution else "—"


def when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else "—"


def _details(text: str) -> str:
    """A timeline entry's details (JSON of ids, states and counts) as ``key: value`` text."""
    try:
        details = orjson.loads(text)
    except orjson.JSONDecodeError:
        return ""
    if not isinstance(details, dict):
        return ""
    return ", ".join(f"{key}: {_detail_value(value)}" for key, value in details.items())


def _detail_value(value: object) -> str:
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    return "—" if value is None else str(value)


def _covered_characters(pdf: FPDF) -> frozenset[str]:
    """Characters both vendored faces can draw."""
    maps = [font.cmap for font in pdf.fonts.values() if isinstance(font, TTFFont)]
    codepoints = set(maps[0]).intersection(*maps[1:])
    return frozenset(chr(codepoint) for codepoint in codepoints)
