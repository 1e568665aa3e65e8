"""A submitted aggression report as an event, so staff-threat rules are Sigma rules too.

DESIGN.md: a report enters the same pipeline as every other event, logsource
``product: wachter, service: staff_safety`` (``wachter.logsource``, which input from outside
can never set). The event carries the report's facts and the people only as pseudonyms:
events are read by the SOC, who must not learn who reported what. The event key is the
report's id, so storing it twice stores it once.

Fields (the staff-threat rules in ``detection_rules/packs/staff_safety.yml`` use them):

``@timestamp``                       when it happened (else when it was reported)
``event.kind/category/type/action``  ``event`` / ``intrusion_detection`` / ``info`` /
                                     ``aggression_reported``
``wachter.report.number``            ``MEL-2026-00042``
``wachter.report.category``          ``staff_safety.models.Category``
``wachter.report.location``          ``Location``; ``wachter.report.channel``: ``Channel``
``wachter.report.weapon``            true when a weapon was involved; ``.injury`` likewise
``wachter.report.victim``            the victim's pseudonym
``wachter.report.perpetrator``       the perpetrator's pseudonym (absent when unknown)
``wachter.report.incident``          the incident's reference
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ingest.batches import Batch
from staff_safety.models import CHANNEL_OF, Location, StaffReport

SOURCE = "wachter"


def report_document(report: StaffReport, *, incident_reference: str | None) -> dict[str, Any]:
    """The ECS document of a submitted report (no names, no free text)."""
    when = report.occurred_at or report.submitted_at or report.created_at
    facts: dict[str, Any] = {
        "number": report.number,
        "category": report.category,
        "location": report.location,
        "channel": _channel(report.location),
        "weapon": bool(report.weapon),
        "injury": bool(report.injury),
        "victim": report.victim_pseudonym,
        "perpetrator": report.perpetrator_pseudonym,
        "incident": incident_reference,
    }
    return {
        "@timestamp": when.isoformat(),
        "event": {
            "kind": "event",
            "category": ["intrusion_detection"],
            "type": ["info"],
            "action": "aggression_reported",
            "dataset": "wachter.staff_safety",
        },
        "wachter": {
            "logsource": {"product": "wachter", "service": "staff_safety"},
            "report": {key: value for key, value in facts.items() if value is not None},
        },
    }


def _channel(location: str | None) -> str | None:
    try:
        return CHANNEL_OF[Location(location)].value if location else None
    except ValueError:
        return None


def record_report_event(
    session: Session, report: StaffReport, *, incident_reference: str | None, now: datetime
) -> None:
    """Store the report's event in the event store, in the caller's transaction."""
    batch = Batch(receiver="wachter", source=SOURCE, ingested=now, origin="staff safety")
    accepted = batch.add(
        report_document(report, incident_reference=incident_reference),
        event_key=f"staff_report:{report.id}",
        raw=f"staff_report:{report.id}",
    )
    if not accepted:  # a report Wachter made itself must always be a valid event
        raise ValueError(f"staff report {report.id} did not make a valid event")
    batch.store(session)
