"""The text of a PDF Wachter wrote, as a reader's search and copy-and-paste would get it.

pypdf does the reading (a test-only dependency): it parses the file's cross-reference
table instead of searching the bytes, inflates the streams and decodes each font's glyph
codes through its ToUnicode map. The hand-written regular expressions this replaced
failed about once in a hundred documents: a Flate stream ends in arbitrary bytes, and
when its last byte was 0x0D the pattern ``stream\\r?\\n(.*?)\\r?\\nendstream`` took that
byte for the line end before ``endstream``, cutting the stream short. The police dossier
prints random pseudonyms, so its content differed on every run and so did the failure.

The reader is strict: a file pypdf has to repair to read fails the test.
"""

from __future__ import annotations

import io

from pypdf import PdfReader


def pdf_pages(document: bytes, *, layout: bool = False) -> list[str]:
    """The text of each page.

    By default one line per line of text on the page (strings drawn side by side, like a
    table row, are joined with a space). With ``layout`` the page is drawn as monospaced
    text, so what stands at the top of the page, or to the right, stands there in the
    text too: for assertions about where something is printed.
    """
    reader = PdfReader(io.BytesIO(document), strict=True)
    if layout:
        return [page.extract_text(extraction_mode="layout") for page in reader.pages]
    return [page.extract_text() for page in reader.pages]


def pdf_text(document: bytes) -> str:
    """The text of every page, one after the other."""
    return "\n".join(pdf_pages(document))


def pdf_lines(page: str) -> list[str]:
    """The non-blank lines of a page's text, runs of spaces (layout columns) made one."""
    return [" ".join(line.split()) for line in page.splitlines() if line.strip()]
