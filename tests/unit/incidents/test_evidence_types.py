"""Evidence types: accepted by extension *and* content, refused when either says no.

Each case writes real bytes to a file and asks ``detect_type`` about it, as the service
does after receiving an upload; names are cleaned first, as the service cleans them.
"""

from __future__ import annotations

import io
import zipfile

import pytest

from incidents.evidence.errors import EvidenceRefused
from incidents.evidence.types import (
    ALLOWED_EXTENSIONS,
    MAX_NAME_LENGTH,
    clean_filename,
    detect_type,
    extension_of,
    type_for_name,
)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
EVTX = b"ElfFile\x00" + b"\x00" * 120
PCAP = b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + b"\x00" * 16
PCAPNG = b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a" + b"\x00" * 16


def zip_of(*members: tuple[str, bytes], stored_first: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, (name, data) in enumerate(members):
            if stored_first and index == 0:
                archive.writestr(zipfile.ZipInfo(name), data)  # ODF's mimetype: stored
            else:
                archive.writestr(name, data)
    return buffer.getvalue()


DOCX = zip_of(("[Content_Types].xml", b"<Types/>"), ("word/document.xml", b"<w:document/>"))
XLSX = zip_of(("[Content_Types].xml", b"<Types/>"), ("xl/workbook.xml", b"<workbook/>"))
ODT = zip_of(
    ("mimetype", b"application/vnd.oasis.opendocument.text"),
    ("content.xml", b"<office:document-content/>"),
    stored_first=True,
)
ODS = zip_of(
    ("mimetype", b"application/vnd.oasis.opendocument.spreadsheet"),
    ("content.xml", b"<office:document-content/>"),
    stored_first=True,
)
PLAIN_ZIP = zip_of(("notes.txt", b"hello"))


@pytest.fixture
def detect(tmp_path):
    def detect(name: str, content: bytes) -> str:
        path = tmp_path / "received"
        path.write_bytes(content)
        return detect_type(path, clean_filename(name)).media_type

    return detect


@pytest.mark.parametrize(
    ("name", "content", "media_type"),
    [
        ("scan.pdf", PDF, "application/pdf"),
        ("photo.png", PNG, "image/png"),
        ("photo.JPG", JPEG, "image/jpeg"),
        ("photo.jpeg", JPEG, "image/jpeg"),
        ("animation.gif", GIF, "image/gif"),
        ("image.webp", WEBP, "image/webp"),
        ("Security.evtx", EVTX, "application/x-ms-evtx"),
        ("capture.pcap", PCAP, "application/vnd.tcpdump.pcap"),
        ("capture.pcapng", PCAPNG, "application/x-pcapng"),
        ("archive.zip", PLAIN_ZIP, "application/zip"),
        (
            "report.docx",
            DOCX,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("sheet.xlsx", XLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("letter.odt", ODT, "application/vnd.oasis.opendocument.text"),
        ("sheet.ods", ODS, "application/vnd.oasis.opendocument.spreadsheet"),
        ("notes.txt", "Bedreiging aan de balie, één persoon.\n".encode(), "text/plain"),
        ("auth.log", b"Mar  2 10:00:00 host sshd[1]: Failed password\n", "text/plain"),
        ("badges.csv", b"time,badge,door\n", "text/csv"),
        ("alert.json", b'  {"rule": "x"}', "application/json"),
        ("events.ndjson", b'{"a": 1}\n{"a": 2}\n', "application/x-ndjson"),
        ("events.jsonl", b'{"a": 1}\n', "application/x-ndjson"),
        ("mail.eml", b"Received: from x\r\nFrom: a@example.org\r\n\r\nbody", "message/rfc822"),
        ("bom.txt", b"\xef\xbb\xbfwith a byte order mark", "text/plain"),
        # A web log may quote an attack; it is evidence, not a page: markup mid-file is fine.
        ("access.log", b'1.2.3.4 - - "GET /?q=<script>alert(1)</script>"\n', "text/plain"),
    ],
)
def test_allowed_types_are_recognised_by_their_content(detect, name, content, media_type):
    assert detect(name, content) == media_type


def test_a_zip_is_a_zip_whatever_it_holds(detect):
    # An office document renamed .zip is stored as the archive it is, never opened.
    assert detect("report.zip", DOCX) == "application/zip"


def test_a_polyglot_gif_is_stored_as_the_image_it_starts_as(detect):
    # Served only as an attachment of type application/octet-stream (see the web tests).
    assert detect("cat.gif", GIF + b"*/=alert(1)//") == "image/gif"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("invoice.pdf", b"<html><script>alert(1)</script></html>", "HTML, SVG or XML"),
        ("invoice.pdf", b"\n\n  <!DOCTYPE html><p>hi", "HTML, SVG or XML"),
        ("logo.png", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "HTML"),
        ("page.png", b"<HTML><BODY>renamed page</BODY></HTML>", "HTML, SVG or XML"),
        ("notes.txt", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>', "XML"),
        ("notes.txt", b"\xef\xbb\xbf<script>alert(1)</script>", "HTML"),
        ("notes.txt", b"MZ\x90\x00\x03" + b"\x00" * 60, "program or a script"),
        ("notes.txt", b"\x7fELF\x02\x01\x01" + b"\x00" * 60, "program or a script"),
        ("run.log", b"#!/bin/sh\nrm -rf /\n", "program or a script"),
        ("scan.pdf", b"\xca\xfe\xba\xbe\x00\x00\x00\x34", "program or a script"),
        ("notes.txt", b"text with a \x00 NUL", "unknown type"),
        ("notes.txt", b"Latin-1 \xe9t\xe9", "unknown type"),
        ("notes.txt", "UTF-16 text".encode("utf-16"), "unknown type"),
        ("photo.png", JPEG, "content is image/jpeg"),
        ("scan.pdf", PNG, "content is image/png"),
        ("photo.png", b"just some text", "content is text/plain"),
        ("report.docx", PLAIN_ZIP, "content is application/zip"),
        ("report.docx", XLSX, "content is application/vnd.openxmlformats-officedocument.spread"),
        ("sheet.ods", ODT, "content is application/vnd.oasis.opendocument.text"),
        ("archive.zip", PDF, "content is application/pdf"),
        ("alert.json", b"not json at all", "content is text/plain"),
        ("mail.eml", b"\r\nno headers here", "content is text/plain"),
        (
            "photo.png",
            b"\x1f\x8b\x08\x00" + b"\x00" * 20,
            "not accepted as evidence (application/gzip)",
        ),
        ("photo.png", b"\x00\x01\x02\x03binary", "unknown type"),
        ("empty.txt", b"", "is empty"),
    ],
)
def test_refused_content_is_refused_with_its_reason(detect, name, content, reason):
    with pytest.raises(EvidenceRefused) as refused:
        detect(name, content)
    assert reason in refused.value.message
    assert refused.value.field == "files"


@pytest.mark.parametrize(
    "name",
    ["x.pdf.exe", "page.html", "page.htm", "logo.svg", "script.js", "run.sh", "setup.msi",
     "macro.docm", "payload.ps1", "no-extension", "archive.tar.gz", "archive.7z", ".pdf"],
)  # fmt: skip
def test_names_whose_last_extension_is_not_allowed_are_refused_before_reading(name):
    with pytest.raises(EvidenceRefused) as refused:
        type_for_name(name)
    assert "must end in one of" in refused.value.message
    assert ".pdf" in refused.value.message


def test_a_nul_byte_in_the_name_is_refused():
    with pytest.raises(EvidenceRefused) as refused:
        clean_filename("shell.php\x00.png")
    assert "NUL" in refused.value.message


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\kees\\Desktop\\scan.pdf", "scan.pdf"),
        ("/var/www/app/config.py.txt", "config.py.txt"),
        ("factuur\u202efdp.exe", "factuurfdp.exe"),  # RIGHT-TO-LEFT OVERRIDE removed
        ("a\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u200e\u200fb.txt", "ab.txt"),
        ("line\r\nbreak\t.txt", "linebreak.txt"),
        ("bell\x07\x1b[2J.txt", "bell[2J.txt"),
        ("  verslag é.pdf  ", "verslag é.pdf"),
        ("cafe\u0301.txt", "café.txt"),  # NFC: one code point
        ("trailing.pdf.", "trailing.pdf"),
    ],
)
def test_names_are_cleaned_for_display(raw, clean):
    assert clean_filename(raw) == clean


def test_long_names_keep_their_extension_within_255_characters():
    cleaned = clean_filename("x" * 5000 + ".pdf")
    assert len(cleaned) == MAX_NAME_LENGTH
    assert cleaned.endswith("x.pdf")


@pytest.mark.parametrize("raw", ["", "   ", "../", "\u202e", "..."])
def test_a_name_that_cleans_to_nothing_is_refused(raw):
    with pytest.raises(EvidenceRefused):
        clean_filename(raw)


def test_the_extension_is_the_last_one_in_lower_case():
    assert extension_of("Scan.PDF") == ".pdf"
    assert extension_of("x.pdf.exe") == ".exe"
    assert extension_of("README") == ""
    assert extension_of(".bashrc") == ""


def test_the_allow_list_holds_no_renderable_or_runnable_type():
    for dangerous in (".html", ".htm", ".svg", ".xml", ".js", ".exe", ".dll", ".bat", ".xhtml"):
        assert dangerous not in ALLOWED_EXTENSIONS
