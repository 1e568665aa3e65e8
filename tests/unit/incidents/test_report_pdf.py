"""The incident report's layout: a valid PDF whose text says what the incident holds.

No PDF reader is a dependency, so ``pdf_text`` below reads fpdf2's output itself: it
inflates the content streams and maps each font's glyph codes back to characters with the
font's ToUnicode table, which is what a reader's copy-and-paste and search use too. The
content is built in memory (no database); recording the export is an integration test.
"""

from __future__ import annotations

import re
import zlib
from datetime import UTC, datetime, timedelta

import pytest

from access_control import Actor
from incidents.cases.models import Incident, TimelineEntry
from incidents.evidence import ManifestEntry
from incidents.reports.content import AlertLine, ReportContent, TaskLine
from incidents.reports.pdf import render

NOW = datetime(2026, 3, 2, 16, 30, tzinfo=UTC)
HASH_ONE = "0f" * 32
HASH_TWO = "a1" * 32

_OBJECT = re.compile(rb"(\d+) 0 obj(.*?)endobj", re.S)
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
_SHOW = re.compile(
    rb"/(F\d+) [\d.]+ Tf|(\((?:\\.|[^\\)])*\))\s*Tj|\[((?:\\.|[^\\\]])*)\]\s*TJ", re.S
)
_LITERAL = re.compile(rb"\((?:\\.|[^\\)])*\)", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _unescape(literal: bytes) -> bytes:
    body, out, index = literal[1:-1], bytearray(), 0
    while index < len(body):
        if body[index : index + 1] != b"\\":
            out += body[index : index + 1]
            index += 1
            continue
        octal = re.match(rb"[0-7]{1,3}", body[index + 1 : index + 4])
        if octal:
            out.append(int(octal.group(), 8) & 0xFF)
            index += 1 + len(octal.group())
        else:
            following = body[index + 1 : index + 2]
            out += _ESCAPES.get(following, following)
            index += 2
    return bytes(out)


def pdf_pages(document: bytes) -> list[str]:
    """The text of each page, one shown string per line, decoded via ToUnicode."""
    objects = {int(number): body for number, body in _OBJECT.findall(document)}

    def stream(number: int) -> bytes:
        body = objects[number]
        data = _STREAM.search(body).group(1)
        return zlib.decompress(data) if b"/FlateDecode" in body else data

    fonts = {}
    for name, number in set(re.findall(rb"/(F\d+) (\d+) 0 R", document)):
        reference = re.search(rb"/ToUnicode (\d+) 0 R", objects[int(number)])
        cmap = stream(int(reference.group(1))).split(b"beginbfchar", 1)[1]
        fonts[name] = {
            int(code, 16): bytes.fromhex(text.decode()).decode("utf-16-be")
            for code, text in re.findall(rb"<([0-9A-Fa-f]{4})> <([0-9A-Fa-f]+)>", cmap)
        }
    pages = []
    for contents in re.findall(rb"/Contents (\d+) 0 R", document):
        font, lines = {}, []
        for match in _SHOW.finditer(stream(int(contents))):
            if match.group(1):
                font = fonts[match.group(1)]
                continue
            literals = [match.group(2)] if match.group(2) else _LITERAL.findall(match.group(3))
            raw = b"".join(_unescape(literal) for literal in literals)
            codes = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw) - 1, 2)]
            lines.append("".join(font.get(code, "\ufffd") for code in codes))
        pages.append("\n".join(lines))
    return pages


def pdf_text(document: bytes) -> str:
    return "\n".join(pdf_pages(document))


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
    pages = pdf_pages(report(timeline=many))
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        lines = page.splitlines()
        assert lines[0] == "TLP:AMBER"  # drawn first, at the top of the page
        assert "Incident report INC-2026-00007" in lines
        assert "Generated 2026-03-02 16:30 by officier" in lines
        assert f"Page {number} of " in lines
    assert pdf_text(report(timeline=many)).count("Comment added") == 120


@pytest.mark.parametrize(
    ("tlp", "label"),
    [("red", "TLP:RED"), ("clear", "TLP:CLEAR"), ("amber+strict", "TLP:AMBER+STRICT")],
)
def test_each_tlp_label_is_printed(tlp, label):
    text = pdf_text(report(incident=incident(tlp=tlp)))
    assert text.splitlines()[0] == label


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
