"""Which files are accepted as evidence, decided from their bytes, never from the client.

An allow-list: each accepted type has its media type and the extensions it may carry. A
file is accepted only when its last extension is on the list *and* its content is of that
type: magic bytes for binary formats (``filetype`` for the common ones, our own for EVTX,
PCAP and PCAPNG), UTF-8 without NUL for text. Whatever the client said in Content-Type is
ignored; the media type stored is the one found here.

Refused, because a browser or a reader could run them, or because the name lies:
programs and scripts (MZ, ELF, Mach-O, Java classes, ``#!``), HTML, SVG and XML documents
(text starting with markup), unknown binary formats, files whose extension contradicts
their content (``.png`` holding HTML, ``.docx`` holding any other zip), double extensions
whose last part is not allowed (``x.pdf.exe``) and names with NUL bytes (``x.php%00.png``).
ZIP archives are accepted as opaque ``application/zip`` blobs: never opened, never
unpacked (SECURITY_CASES 5.7); for office files only the first members' names in the
first 8 KiB are read, as ``filetype`` does, and nothing is decompressed.

Original names are kept for display only, cleaned: path parts, control characters and
bidirectional overrides removed, at most 255 characters.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import filetype

from core.i18n import N_
from incidents.evidence.errors import EvidenceRefused

MAX_NAME_LENGTH = 255
HEAD_BYTES = 8192  # what filetype reads, and enough for every magic number here
_CHUNK = 1024 * 1024
# Bidirectional embeddings, overrides and isolates, and the invisible direction marks.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


@dataclass(frozen=True)
class EvidenceType:
    media_type: str
    extensions: tuple[str, ...]  # lower case, with the dot
    text: bool = False


PDF = EvidenceType("application/pdf", (".pdf",))
PNG = EvidenceType("image/png", (".png",))
JPEG = EvidenceType("image/jpeg", (".jpg", ".jpeg"))
GIF = EvidenceType("image/gif", (".gif",))
WEBP = EvidenceType("image/webp", (".webp",))
ZIP = EvidenceType("application/zip", (".zip",))
DOCX = EvidenceType(
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document", (".docx",)
)
XLSX = EvidenceType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (".xlsx",))
ODT = EvidenceType("application/vnd.oasis.opendocument.text", (".odt",))
ODS = EvidenceType("application/vnd.oasis.opendocument.spreadsheet", (".ods",))
EVTX = EvidenceType("application/x-ms-evtx", (".evtx",))
PCAP = EvidenceType("application/vnd.tcpdump.pcap", (".pcap", ".cap"))
PCAPNG = EvidenceType("application/x-pcapng", (".pcapng",))
TEXT = EvidenceType("text/plain", (".txt", ".log"), text=True)
CSV = EvidenceType("text/csv", (".csv",), text=True)
JSON = EvidenceType("application/json", (".json",), text=True)
NDJSON = EvidenceType("application/x-ndjson", (".ndjson", ".jsonl"), text=True)
EML = EvidenceType("message/rfc822", (".eml",), text=True)

ALLOWED_TYPES: tuple[EvidenceType, ...] = (
    PDF, PNG, JPEG, GIF, WEBP, ZIP, DOCX, XLSX, ODT, ODS, EVTX, PCAP, PCAPNG,
    TEXT, CSV, JSON, NDJSON, EML,
)  # fmt: skip
BY_EXTENSION: dict[str, EvidenceType] = {
    extension: kind for kind in ALLOWED_TYPES for extension in kind.extensions
}
ALLOWED_EXTENSIONS: tuple[str, ...] = tuple(sorted(BY_EXTENSION))
OFFICE_TYPES = (DOCX, XLSX, ODT, ODS)

_FILETYPE_MEDIA = {kind.media_type: kind for kind in (PDF, PNG, JPEG, GIF, WEBP, ZIP)} | {
    "image/apng": PNG
}
_OWN_MAGIC: tuple[tuple[bytes, EvidenceType], ...] = (
    (b"ElfFile\x00", EVTX),
    (b"\xd4\xc3\xb2\xa1", PCAP),
    (b"\xa1\xb2\xc3\xd4", PCAP),
    (b"\x4d\x3c\xb2\xa1", PCAP),  # nanosecond resolution
    (b"\xa1\xb2\x3c\x4d", PCAP),
    (b"\x0a\x0d\x0d\x0a", PCAPNG),
)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_PROGRAM_MAGIC = (
    b"MZ",  # Windows (PE) and DOS programs
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",  # Mach-O, both byte orders, 32 and 64 bit
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",  # Java class files and universal Mach-O binaries
    b"#!",  # scripts
)
# Text a browser would take for a document it renders: WHATWG MIME sniffing's HTML
# patterns, plus XML and SVG.
_MARKUP = re.compile(
    r"<(!doctype|html|head|body|script|iframe|h1|div|font|table|a|style|title|b|br|p|svg|\?xml"
    r"|!--|object|embed|meta|link|math)(\s|>|/|$)",
    re.IGNORECASE,
)
_HEADER_LINE = re.compile(rb"[!-9;-~]+:|From ")  # a message starts with a header field


def clean_filename(raw: str) -> str:
    """The name to display: no path, no control or direction characters, ≤ 255 characters."""
    if "\x00" in raw:
        raise EvidenceRefused(N_("A file name may not contain NUL characters."))
    name = re.split(r"[/\\]", unicodedata.normalize("NFC", raw))[-1]
    name = "".join(
        character
        for character in name
        if character not in _BIDI and unicodedata.category(character) not in ("Cc", "Cs")
    ).strip(" .")
    if not name:
        raise EvidenceRefused(N_("The file has no name; give it one with its extension."))
    if len(name) > MAX_NAME_LENGTH:  # shorten the stem, keep the extension
        stem, dot, extension = name.rpartition(".")
        if dot and stem and len(extension) <= 16:
            name = f"{stem[: MAX_NAME_LENGTH - len(extension) - 1]}.{extension}"
        else:
            name = name[:MAX_NAME_LENGTH]
    return name


def extension_of(name: str) -> str:
    """The last extension, lower case, with its dot; ``""`` for none."""
    stem, dot, extension = name.rpartition(".")
    return f".{extension.lower()}" if dot and stem else ""


def type_for_name(name: str) -> EvidenceType:
    """The type a (cleaned) name claims, checked before a byte is read; refused if none."""
    extension = extension_of(name)
    claimed = BY_EXTENSION.get(extension)
    if claimed is None:
        raise EvidenceRefused(
            N_(
                "%(name)s is not accepted: evidence files must end in one of %(extensions)s "
                "(the last extension counts)."
            ),
            name=name,
            extensions=", ".join(ALLOWED_EXTENSIONS),
        )
    return claimed


def detect_type(path: Path, name: str) -> EvidenceType:
    """The type of the file at ``path`` by its content, which must agree with ``name``."""
    claimed = type_for_name(name)
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
        if not head:
            raise EvidenceRefused(N_("%(name)s is empty."), name=name)
        found = _binary_type(head, claimed, name)
        if found is None:
            found = _text_type(head, handle, claimed, name)
    if found != claimed:
        raise EvidenceRefused(
            N_("%(name)s is not what its extension says: its content is %(media_type)s."),
            name=name,
            media_type=found.media_type,
        )
    return found


def _binary_type(head: bytes, claimed: EvidenceType, name: str) -> EvidenceType | None:
    if head.startswith(_PROGRAM_MAGIC):
        raise EvidenceRefused(
            N_("%(name)s is a program or a script; those are never accepted as evidence."),
            name=name,
        )
    for magic, kind in _OWN_MAGIC:
        if head.startswith(magic):
            return kind
    if head.startswith(_ZIP_MAGIC):
        if claimed in OFFICE_TYPES:
            # filetype reads the names of the first members (and ODF's stored mimetype)
            # from the bytes at hand; nothing is decompressed.
            office = filetype.document_match(head)
            mime = office.mime if office is not None else None
            return next((kind for kind in OFFICE_TYPES if kind.media_type == mime), ZIP)
        return ZIP
    guessed = filetype.guess(head)
    if guessed is None:
        return None
    accepted = _FILETYPE_MEDIA.get(guessed.mime)
    if accepted is None:
        raise EvidenceRefused(
            N_("%(name)s is of a type that is not accepted as evidence (%(media_type)s)."),
            name=name,
            media_type=guessed.mime,
        )
    return accepted


def _text_type(head: bytes, rest: BinaryIO, claimed: EvidenceType, name: str) -> EvidenceType:
    if not _is_clean_utf8(head, rest):
        raise EvidenceRefused(
            N_(
                "%(name)s is of an unknown type: it is neither a format on the list nor "
                "UTF-8 text without NUL characters."
            ),
            name=name,
        )
    start = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if _MARKUP.match(start[:200].decode("utf-8", "ignore")):
        raise EvidenceRefused(
            N_("%(name)s is an HTML, SVG or XML document; those are not accepted as evidence."),
            name=name,
        )
    if not claimed.text:
        return TEXT
    if claimed in (JSON, NDJSON) and not start.startswith((b"{", b"[")):
        return TEXT
    if claimed is EML and not _HEADER_LINE.match(start):
        return TEXT
    return claimed


def _is_clean_utf8(head: bytes, rest: BinaryIO) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    chunk = head
    try:
        while chunk:
            if b"\x00" in chunk:
                return False
            decoder.decode(chunk)
            chunk = rest.read(_CHUNK)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True
