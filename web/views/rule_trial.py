"""The rule page's "test this rule" box and the hit counts beside every rule.

``run_trial`` reads the form (pasted events, or the newest stored events), checks that a
test on stored events is made by someone who may read events (the route itself needs only
RULES_READ: pasting one's own events reveals nothing stored), runs the trial in
``detection_rules.service.trial`` and records a read of stored events in the audit trail
(rule key and counts, never event content). A trial stores nothing else.

``rule_counts`` puts the rule side's detection counts (last 30 days, one query) together
with the incidents side's false-positive feedback (closed alerts per rule, one query): the
rule package never reads alerts, so the two meet here.

An htmx request (``HX-Request: true``) is answered with the fragment the page swaps in;
without JavaScript the same POST renders the whole page again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from flask import request

from access_control import Permission, permissions_of, record_audit
from core import InvalidInput, PermissionDenied
from core.i18n import N_
from detection_rules.matcher import OfficeHours
from detection_rules.service.counts import detection_counts
from detection_rules.service.trial import (
    DEFAULT_RECENT,
    MAX_PASTED_BYTES,
    RECENT_CHOICES,
    TrialResult,
    TrialSource,
    try_rule_on_pasted,
    try_rule_on_recent,
)
from incidents.alerts import RuleFeedback, rule_feedback
from web.auth import current_actor, current_user
from web.context import db_session, web_context

TEXT_FIELD: Final = "events"
# What the form may weigh on the wire: URL-encoding can triple JSON (every quote and brace
# is %XX), plus the CSRF token and the choices. The domain refuses more than 1 MiB of text
# with a clear message; a body beyond this is refused (413) before it is read.
MAX_FORM_BYTES: Final = 3 * MAX_PASTED_BYTES + 16 * 1024


@dataclass(frozen=True)
class RuleCounts:
    """What the list and the rule page say of a rule's record."""

    detections: int = 0  # in the last 30 days
    closed: int = 0
    false_positives: int = 0

    @property
    def false_positive_percent(self) -> int | None:
        """The share of closed alerts closed as false positive, rounded; None when none closed."""
        return round(100 * self.false_positives / self.closed) if self.closed else None


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def rule_counts(now: datetime, rule_key: str | None = None) -> dict[str, RuleCounts]:
    """Counts per rule key (every rule's, or one rule's): two aggregate queries in all."""
    session = db_session()
    detections = detection_counts(session, now=now, rule_key=rule_key)
    feedback = rule_feedback(session, rule_key)
    keys = detections.keys() | feedback.keys()
    return {key: _counts(detections.get(key, 0), feedback.get(key)) for key in keys}


def _counts(detections: int, feedback: RuleFeedback | None) -> RuleCounts:
    if feedback is None:
        return RuleCounts(detections=detections)
    return RuleCounts(detections, feedback.closed, feedback.false_positives)


def run_trial(key: str) -> TrialResult:
    """The trial the form asks for; a test on stored events is an audited read of events."""
    source = request.form.get("source", "")
    settings, now = web_context().settings, web_context().clock.now()
    opens, closes = settings.office_hours
    hours = OfficeHours(timezone=settings.timezone, opens=opens, closes=closes)
    session = db_session()
    if source == TrialSource.PASTED:
        text = request.form.get(TEXT_FIELD, "")
        return try_rule_on_pasted(session, key, text, office_hours=hours)
    if source != TrialSource.STORED:
        raise InvalidInput(N_("Choose pasted events or stored events."), field="source")
    _check_may_read_events()
    result = try_rule_on_recent(session, key, count=_count(), office_hours=hours)
    record_audit(
        session,
        actor=current_actor(),
        action="event.read",
        target=f"detection_rule:{result.rule_key}",
        outcome="success",
        now=now,
        details={"trial": result.version, "events": result.tested, "matched": result.matched},
    )
    return result


def _check_may_read_events() -> None:
    user = current_user()
    if user is None or Permission.EVENTS_READ not in permissions_of(user.role):
        raise PermissionDenied(
            N_("Testing a rule on stored events needs the right to read events.")
        )


def _count() -> int:
    text = request.form.get("count", "").strip()
    if not text:
        return DEFAULT_RECENT
    if len(text) > 6 or not text.isascii() or not text.isdigit() or int(text) not in RECENT_CHOICES:
        raise InvalidInput(N_("Choose a number of events from the list."), field="count")
    return int(text)
