"""Finding incidents, and the one guard every change passes: a merged incident is read-only.

An unknown id and an id the caller may not see are the same ``NotFound`` (no existence
oracle); references are looked up case-insensitively, as people type them.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import Conflict, InvalidInput, NotFound
from core.i18n import N_
from incidents.cases.models import Incident

REFERENCE = re.compile(r"INC-[0-9]{4}-[0-9]{5,}", re.ASCII)
MAX_REFERENCE_LENGTH = 30
MAX_SEARCH_TEXT = 200


def reference_for(incident: Incident) -> str:
    """``INC-<year>-<id:05d>``: the year it was opened and its id."""
    return f"INC-{incident.created_at.year:04d}-{incident.id:05d}"


def get_incident(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(N_("There is no incident %(id)s."), id=incident_id)
    return incident


def get_incident_by_reference(session: Session, reference: str) -> Incident:
    text = reference.strip().upper()
    if len(text) > MAX_REFERENCE_LENGTH or not REFERENCE.fullmatch(text):
        raise InvalidInput(N_("Give an incident reference like INC-2026-00042."), field="reference")
    incident = session.scalar(select(Incident).where(Incident.reference == text))
    if incident is None:
        raise InvalidInput(
            N_("There is no incident %(reference)s."), field="reference", reference=text
        )
    return incident


def find_incidents(session: Session, text: str, *, limit: int = 10) -> list[Incident]:
    """Newest incidents whose reference or title holds ``text`` (escaped LIKE, any case)."""
    needle = text.strip().lower()[:MAX_SEARCH_TEXT]
    if not needle:
        return []
    matches = func.lower(Incident.reference).contains(needle, autoescape=True) | func.lower(
        Incident.title
    ).contains(needle, autoescape=True)
    query = select(Incident).where(matches).order_by(Incident.id.desc()).limit(limit)
    return list(session.scalars(query))


def writable_incident(session: Session, incident_id: int) -> Incident:
    """The incident, locked for the change; refused while it is merged into another one.

    The row lock (PostgreSQL; SQLite has one writer anyway) makes two people changing the
    same incident at once take turns, so neither works from a state the other has left.
    """
    incident = locked_incident(session, incident_id)
    check_writable(session, incident)
    return incident


def locked_incident(session: Session, incident_id: int) -> Incident:
    """The incident as it is now, its row locked until the transaction ends."""
    incident = session.get(Incident, incident_id, with_for_update=True, populate_existing=True)
    if incident is None:
        raise NotFound(N_("There is no incident %(id)s."), id=incident_id)
    return incident


def check_writable(session: Session, incident: Incident) -> None:
    if incident.merged_into_id is not None:
        target = session.get(Incident, incident.merged_into_id)
        raise Conflict(
            N_(
                "%(reference)s was merged into %(target)s and is read-only; "
                "work on %(target)s, or un-merge it first."
            ),
            reference=incident.reference,
            target=target.reference if target is not None else "?",
        )
