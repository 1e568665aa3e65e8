"""Deadlines (SLA) per incident type and severity, their escalation, and MTTA/MTTR.

``sla`` holds the table (built-in defaults, ``WACHTER_DEADLINES_FILE`` over them) and the
deadlines of one incident; ``escalation`` the job that records, audits and notifies a
breach once; ``metrics`` the monthly figures; ``overview`` what the deadline page lists.
docs/deadlines.md describes them.
"""

from incidents.deadlines.escalation import escalate_breaches, escalation_run
from incidents.deadlines.metrics import MonthMetrics, monthly_metrics
from incidents.deadlines.models import DeadlineBreach
from incidents.deadlines.overview import OpenDeadline, RecentBreach, open_deadlines, recent_breaches
from incidents.deadlines.sla import (
    DEADLINE_KINDS,
    DEFAULT_TABLE,
    Deadline,
    DeadlineKind,
    DeadlineTable,
    current_table,
    deadlines_of,
    load_table,
    next_deadline,
)

__all__ = [
    "DEADLINE_KINDS",
    "DEFAULT_TABLE",
    "Deadline",
    "DeadlineBreach",
    "DeadlineKind",
    "DeadlineTable",
    "MonthMetrics",
    "OpenDeadline",
    "RecentBreach",
    "current_table",
    "deadlines_of",
    "escalate_breaches",
    "escalation_run",
    "load_table",
    "monthly_metrics",
    "next_deadline",
    "open_deadlines",
    "recent_breaches",
]
