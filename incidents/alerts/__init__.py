"""Alerts: detections become alerts (fingerprint, deduplication, suppressions, policies),
and people acknowledge and close them. docs/incidents.md ("Alerts") describes the model.

    raise_alerts(session, *, now, dedup_window, limit)      the job: detections → alerts
    acknowledge / close / bulk_acknowledge / bulk_close     status changes (audited)
    mark_in_incident(session, alert, incident_id, status, actor, now)   for the incident service
    get_alert, list_alerts(AlertFilters), related_alerts, alert_detections   reading
    newest_alert_id / count_new_alerts                      the queue's "new since" notice
    rule_feedback / false_positive_counts                   closed alerts per rule
    create_suppression / revoke_suppression / list_suppressions / latest_hits
    conditions_from / parse_condition_lines                 suppression conditions
    create_policy / disable_policy / list_policies          alert policies
"""

from incidents.alerts.conditions import (
    MAX_CONDITIONS,
    Condition,
    Operator,
    conditions_from,
    load_conditions,
    parse_condition_lines,
)
from incidents.alerts.policies import create_policy, disable_policy, list_policies
from incidents.alerts.queries import (
    ALL,
    OPEN,
    PAGE_SIZE,
    STATUS_FILTERS,
    AlertFilters,
    AlertPage,
    RuleFeedback,
    alert_detections,
    count_new_alerts,
    entities_of_alert,
    false_positive_counts,
    group_of_alert,
    list_alerts,
    newest_alert_id,
    related_alerts,
    rule_feedback,
    tags_of_alert,
)
from incidents.alerts.raising import ALERT_BATCH, raise_alerts
from incidents.alerts.service import (
    MAX_BULK,
    BulkOutcome,
    acknowledge,
    bulk_acknowledge,
    bulk_close,
    check_alert_ids,
    check_resolution,
    close,
    get_alert,
    mark_in_incident,
)
from incidents.alerts.suppressions import (
    MAX_DAYS,
    create_suppression,
    get_suppression,
    is_active,
    latest_hits,
    list_suppressions,
    revoke_suppression,
)

__all__ = [
    "ALERT_BATCH",
    "ALL",
    "MAX_BULK",
    "MAX_CONDITIONS",
    "MAX_DAYS",
    "OPEN",
    "PAGE_SIZE",
    "STATUS_FILTERS",
    "AlertFilters",
    "AlertPage",
    "BulkOutcome",
    "Condition",
    "Operator",
    "RuleFeedback",
    "acknowledge",
    "alert_detections",
    "bulk_acknowledge",
    "bulk_close",
    "check_alert_ids",
    "check_resolution",
    "close",
    "conditions_from",
    "count_new_alerts",
    "create_policy",
    "create_suppression",
    "disable_policy",
    "entities_of_alert",
    "false_positive_counts",
    "get_alert",
    "get_suppression",
    "group_of_alert",
    "is_active",
    "latest_hits",
    "list_alerts",
    "list_policies",
    "list_suppressions",
    "load_conditions",
    "mark_in_incident",
    "newest_alert_id",
    "parse_condition_lines",
    "raise_alerts",
    "related_alerts",
    "revoke_suppression",
    "rule_feedback",
    "tags_of_alert",
]
