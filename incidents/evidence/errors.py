"""Errors of evidence handling that reach people, on ``core.errors``.

    InvalidInput (core)
    └── EvidenceRefused         the file is not accepted: its name, type or content
    DomainError (core)
    └── EvidenceTooLarge        the file, the request or the incident's quota is over a limit
    Conflict (core)
    └── EvidenceIntegrityError  the stored bytes no longer match the SHA-256 taken on arrival

``EvidenceTooLarge`` is not an ``InvalidInput``: the web layer answers it with 413, not
with the form again. ``EvidenceIntegrityError`` is raised after the failure has been
written to the audit trail and the chain of custody in the caller's session: a caller
keeps those records by committing before it rolls anything else back (the web layer does).
The messages are English, marked with ``core.i18n.N_``; the web layer translates them.
"""

from __future__ import annotations

from core import Conflict, DomainError, InvalidInput


class EvidenceRefused(InvalidInput):
    """A file refused for its name, its type or a contradiction between the two."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message, field="files", **params)


class EvidenceTooLarge(DomainError):
    """Over the size of one file, the number of files per request or the incident's quota."""


class EvidenceIntegrityError(Conflict):
    """The file on disk is missing or its SHA-256 differs from the one taken on arrival."""
