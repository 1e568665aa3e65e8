"""The incident report's layout: a valid PDF whose text says what the incident holds.

The PDF is read back with pypdf (``tests.support.pdf``), which maps each font's glyph codes
to characters through the font's ToUnicode table, as a reader's copy-and-paste and search
do. The content is built in memory (no database); recording the export is an integration
test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from access_control import Actor
from incidents.cases.models import Incident, TimelineEntry
from incidents.evidence import ManifestEntry
from incidents.reports.content import AlertLine, ReportContent, TaskLine
from incidents.reports.pdf import render
from tests.support.pdf import pdf_lines, pdf_pages, pdf_text

NOW = datetime(2026, 3, 2, 16, 30, tzinfo=UTC)
HASH_ONE = "0f" * 32
HASH_TWO = "a1" * 32


def incident(**overrides) -> Incident:
    values = {
        "id": 7,
        "reference": "INC-2026-00007",
        "title": "Phishing bij de Inning",
        "description": "Een medewerker meldde een verdachte e-mail.\nTweede regel.",
        "type": "cyber",
        "severity": "high",
        "tlp": "amber",
        "state": "containment",
        "created_at": NOW - timedelta(days=1),
        "created_by": "officier",
        "summary": "Inloggegevens van één account gelekt; wachtwoord gewijzigd.",
        "resolution": None,
        "closed_at": None,
    }
    values.update(overrides)
    return Incident(**values)


def timeline_entry(kind: str, minutes: int = 0, details: str = "{}") -> TimelineEntry:
    return TimelineEntry(
        occurred_at=NOW - timedelta(hours=5) + timedelta(minutes=minutes),
        actor="officier",
        kind=kind,
        details=details,
    )


def content(**overrides) -> ReportContent:
    values = {
        "incident": incident(),
        "assignee": "José Müller",
        "reviewer": "Zoë de Vries",
        "timeline": [
            timeline_entry("created"),
            timeline_entry("state_changed", 5, '{"from": "new", "to": "triage"}'),
            timeline_entry("evidence_added", 9, '{"evidence_id": 1, "size": 2048}'),
        ],
        "tasks": [TaskLine("Getroffen systemen isoleren", "done", "José Müller", NOW, NOW)],
        "alerts": [
            AlertLine("Sign-in from a new country", "rule-9", "high", "escalated", 12, NOW, NOW)
        ],
        "entities": [("ip", "203.0.113.9"), ("account", "j.muller")],
        "evidence": [
            ManifestEntry(1, "mail.eml", "message/rfc822", 2048, HASH_ONE, "officier", NOW, ""),
            ManifestEntry(2, "scan.pdf", "application/pdf", 99, HASH_TWO, "analist", NOW, ""),
        ],
    }
    values.update(overrides)
    return ReportContent(**values)


def report(translate=None, compress: bool = True, **overrides) -> bytes:
    options = {"translate": translate} if translate else {}
    return render(
        content(**overrides), actor=Actor(name="officier"), now=NOW, compress=compress, **options
    )


@pytest.mark.parametrize("compress", [True, False])
def test_the_report_is_a_pdf_with_the_incidents_facts(compress):
    document = report(compress=compress)
    assert document.startswith(b"%PDF-")
    assert document.rstrip().endswith(b"%%EOF")
    text = pdf_text(document)
    for expected in (
        "INC-2026-00007: Phishing bij de Inning",
        "TLP:AMBER",
        "José Müller",
        "Zoë de Vries",
        "Inloggegevens van één account gelekt; wachtwoord gewijzigd.",
        "Tweede regel.",
        "containment",
        "Getroffen systemen isoleren",
        "Sign-in from a new country",
        "rule-9",
        "203.0.113.9",
        "j.muller",
        "mail.eml",
        "message/rfc822",
        "2048 B",
    ):
        assert expected in text, expected


def test_every_evidence_hash_is_printed_whole():
    lines = pdf_text(report()).splitlines()
    assert f"SHA-256: {HASH_ONE}" in lines
    assert f"SHA-256: {HASH_TWO}" in lines


def test_the_timeline_names_each_kind_of_entry():
    text = pdf_text(report())
    assert "Incident created" in text
    assert "State changed" in text
    assert "from: new, to: triage" in text
    assert "Evidence added" in text


def test_the_tlp_label_heads_every_page_and_the_footer_says_who_and_when():
    many = [timeline_entry("comment_added", minute) for minute in range(120)]
    document = report(timeline=many)
    pages = pdf_pages(document, layout=True)
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        lines = pdf_lines(page)
        assert lines[0] == "Incident report INC-2026-00007 TLP:AMBER"  # top left, top right
        assert lines[-1] == f"Generated 2026-03-02 16:30 by officier Page {number} of {len(pages)}"
    assert pdf_text(document).count("Comment added") == 120


@pytest.mark.parametrize(
    ("tlp", "label"),
    [("red", "TLP:RED"), ("clear", "TLP:CLEAR"), ("amber+strict", "TLP:AMBER+STRICT")],
)
def test_each_tlp_label_is_printed(tlp, label):
    first_page = pdf_pages(report(incident=incident(tlp=tlp)), layout=True)[0]
    assert pdf_lines(first_page)[0].endswith(f" {label}")  # the header's right-hand side


def test_a_report_is_in_the_readers_language():
    dutch = {
        "Timeline": "Tijdlijn",
        "Evidence": "Bewijs",
        "Incident report": "Incidentrapport",
        "Page %(page)s of %(pages)s": "Pagina %(page)s van %(pages)s",
        "Generated %(time)s by %(actor)s": "Gemaakt %(time)s door %(actor)s",
        "high": "hoog",
        "Incident created": "Incident aangemaakt",
    }
    text = pdf_text(report(translate=lambda message: dutch.get(message, message)))
    assert "Tijdlijn" in text
    assert "Bewijs" in text
    assert "Incidentrapport INC-2026-00007" in text
    assert "Pagina 1 van " in text
    assert "Gemaakt 2026-03-02 16:30 door officier" in text
    assert "hoog" in text
    assert "Incident aangemaakt" in text
    assert "Timeline" not in text


def test_characters_the_font_lacks_are_replaced_and_direction_overrides_dropped():
    title = "Brief 中文 \u202eevil\u202c 🙂 \x07bel"
    document = report(incident=incident(title=title, description="tab\there\r\nnext"))
    text = pdf_text(document)
    assert "INC-2026-00007: Brief \ufffd\ufffd evil \ufffd bel" in text
    assert "\u202e" not in text
    assert "tab here" in text


def test_empty_sections_say_so():
    text = pdf_text(report(timeline=[], tasks=[], alerts=[], entities=[], evidence=[]))
    assert text.count("None.") == 5


def test_a_closed_incident_shows_its_resolution_and_close_time():
    closed = incident(state="closed", resolution="false_positive", closed_at=NOW)
    text = pdf_text(report(incident=closed))
    assert "false positive" in text
    assert "closed" in text
    assert "2026-03-02 16:30" in text


def test_a_page_whose_compressed_content_ends_in_a_carriage_return_is_read_whole():
    # This summary makes the page's Flate stream end in byte 0x0D; the regular expressions
    # that read these PDFs before pypdf took it for the line end before "endstream" and cut
    # the stream short (the police-dossier test failed so on random pseudonyms).
    summary = "Wachtwoord 967 gewijzigd; 7657673"
    document = report(incident=incident(summary=summary))
    assert b"\r\nendstream" in document, "fpdf2 or zlib changed: find a summary that does this"
    assert summary in pdf_text(document)
