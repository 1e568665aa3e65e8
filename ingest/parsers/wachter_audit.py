"""Wachter's own authentication events: the ECS documents ``access_control`` makes of its
audit trail (``access_control.auth_events.as_ecs``, dataset ``wachter.auth``).

They are ECS already, so this parser checks the basics rules depend on (time, action,
outcome, category) and passes them through; a document that claims the dataset but does
not look like one of ours is refused rather than half-trusted. Only ``wachter.logsource``
and ``wachter.details`` may come in under ``wachter``: the rest of that namespace (quality
flags) is set by the pipeline, never by the input.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ingest.parsers.base import Document, ParseError, valid_ip

DATASET = "wachter.auth"  # access_control.auth_events.DATASET
_OUTCOMES = frozenset({"success", "failure", "unknown"})
_WACHTER_FIELDS = frozenset({"logsource", "details"})


class WachterAuditParser:
    name = "wachter-audit"
    description = "Wachter's own authentication events (ECS, dataset wachter.auth)"

    def detect_document(self, document: Document) -> bool:
        event = document.get("event")
        return isinstance(event, dict) and event.get("dataset") == DATASET

    def parse_document(self, document: Document, *, received: datetime) -> Document:
        event = document.get("event")
        if not isinstance(event, dict) or event.get("dataset") != DATASET:
            raise ParseError(f"not a Wachter authentication event: event.dataset is not {DATASET}")
        _check_event(event)
        if not isinstance(document.get("@timestamp"), str):
            raise ParseError("a Wachter authentication event needs @timestamp as text")
        for name in ("user", "source", "user_agent"):
            if name in document and not isinstance(document[name], dict):
                raise ParseError(f"{name} must be an object")
        address = document.get("source", {}).get("ip")
        if address is not None and not _is_address(address):
            raise ParseError("source.ip is not an IP address")
        wachter = document.get("wachter", {})
        if not isinstance(wachter, dict) or not _WACHTER_FIELDS.issuperset(wachter):
            raise ParseError("wachter may only hold logsource and details")
        # finish() fills event and wachter in place: those are copied, the sender's stay.
        output = {**document, "event": dict(event)}
        if "wachter" in document:
            output["wachter"] = dict(wachter)
        return output


def _check_event(event: dict[str, Any]) -> None:
    action = event.get("action")
    if not isinstance(action, str) or not action:
        raise ParseError("event.action must be a non-empty text")
    if event.get("outcome") not in _OUTCOMES:
        raise ParseError("event.outcome must be success, failure or unknown")
    category = event.get("category")
    # Sign-ins are "authentication"; account creation and role changes are "iam".
    if not isinstance(category, list) or not {"authentication", "iam"} & set(map(str, category)):
        raise ParseError("event.category must be a list with authentication or iam")


def _is_address(value: Any) -> bool:
    return isinstance(value, str) and valid_ip(value) is not None


PARSERS: tuple[WachterAuditParser, ...] = (WachterAuditParser(),)
