"""How often rules fire: detections per rule over a recent period, in one aggregate query.

The rule list shows every rule's count beside its false-positive feedback (closed alerts
per rule, from ``incidents.alerts.rule_feedback``; the web view puts the two together, as
this package never reads alerts). One ``GROUP BY`` over the indexed ``detected_at`` for the
whole list, never a query per rule.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from detection_rules.models import KEY_LENGTH, Detection

COUNT_PERIOD: Final = timedelta(days=30)


def detection_counts(
    session: Session, *, now: datetime, rule_key: str | None = None
) -> dict[str, int]:
    """Detections per rule key in the ``COUNT_PERIOD`` before ``now`` (rules without any
    are left out); one rule's only when ``rule_key`` is given."""
    query = (
        select(Detection.rule_key, func.count())
        .where(Detection.detected_at >= now - COUNT_PERIOD, Detection.detected_at <= now)
        .group_by(Detection.rule_key)
    )
    if rule_key is not None:
        query = query.where(Detection.rule_key == rule_key[:KEY_LENGTH])
    return {str(key): int(count) for key, count in session.execute(query)}
