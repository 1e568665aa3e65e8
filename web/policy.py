"""Who may call which route: one table, (endpoint, method) → rule. Deny by default.

A route missing from this table answers 403 for everyone, and the route-inventory test
(tests/security/test_route_inventory.py) fails, so a new route cannot ship unprotected.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from access_control import Permission


class Access(StrEnum):
    PUBLIC = "public"  # no session needed (probes, sign-in, links carrying their own token)
    TOKEN = "token"  # noqa: S105 - machines: the view checks an API token and its scope
    MFA_PENDING = "mfa_pending"  # password accepted, code not yet
    ENROL_PENDING = "enrol_pending"  # password accepted, TOTP not yet enrolled
    ANY_SESSION = "any_session"  # any stage (sign out)
    SIGNED_IN = "signed_in"  # password and MFA done


@dataclass(frozen=True)
class Rule:
    access: Access
    permission: Permission = Permission.NONE
    step_up: bool = False  # needs a password+TOTP confirmation younger than 10 minutes


PUBLIC = Rule(Access.PUBLIC)
SIGNED_IN = Rule(Access.SIGNED_IN)


def _console(permission: Permission, *, step_up: bool = False) -> Rule:
    return Rule(Access.SIGNED_IN, permission, step_up)


POLICY: dict[tuple[str, str], Rule] = {
    ("static", "GET"): PUBLIC,
    ("ops.healthz", "GET"): PUBLIC,
    ("ops.readyz", "GET"): PUBLIC,
    ("console.index", "GET"): PUBLIC,  # sends each visitor where they belong
    ("console.set_language", "POST"): PUBLIC,
    ("console.dashboard", "GET"): _console(Permission.CONSOLE),
    ("console.dashboard_panels", "GET"): _console(Permission.CONSOLE),  # the page's refresh
    ("search.everywhere", "GET"): _console(Permission.CONSOLE),
    ("auth.login", "GET"): PUBLIC,
    ("auth.login", "POST"): PUBLIC,
    ("auth.mfa", "GET"): Rule(Access.MFA_PENDING),
    ("auth.mfa", "POST"): Rule(Access.MFA_PENDING),
    ("auth.enrol_totp", "GET"): Rule(Access.ENROL_PENDING),
    ("auth.enrol_totp", "POST"): Rule(Access.ENROL_PENDING),
    ("auth.logout", "POST"): Rule(Access.ANY_SESSION),
    ("auth.setup", "GET"): PUBLIC,
    ("auth.setup", "POST"): PUBLIC,
    ("auth.enrolment_link", "GET"): PUBLIC,
    ("auth.enrolment_link", "POST"): PUBLIC,
    ("account.show", "GET"): SIGNED_IN,
    ("account.change_password", "POST"): SIGNED_IN,
    ("account.logout_everywhere", "POST"): SIGNED_IN,
    ("account.mark_notices_read", "POST"): SIGNED_IN,
    ("account.step_up", "GET"): SIGNED_IN,
    ("account.step_up", "POST"): SIGNED_IN,
    ("account.regenerate_recovery_codes", "POST"): Rule(Access.SIGNED_IN, step_up=True),
    ("account.reset_own_mfa", "POST"): Rule(Access.SIGNED_IN, step_up=True),
    ("api.token_introspection", "GET"): Rule(Access.TOKEN),
    ("api.search_events", "GET"): Rule(Access.TOKEN),
    ("api.ingest_events", "POST"): Rule(Access.TOKEN),
    # The API's OpenAPI description: it describes the interface and holds no data, and the
    # same text is in the repository (web/openapi.yaml), so a client may read it unasked.
    ("openapi.document", "GET"): PUBLIC,
    ("admin.users", "GET"): _console(Permission.USERS_ADMIN),
    ("admin.create_user", "POST"): _console(Permission.USERS_ADMIN),
    ("admin.new_enrolment_link", "POST"): _console(Permission.USERS_ADMIN),
    ("admin.disable_user", "POST"): _console(Permission.USERS_ADMIN),
    ("admin.end_sessions", "POST"): _console(Permission.USERS_ADMIN),
    ("admin.enable_user", "POST"): _console(Permission.USERS_ADMIN),
    ("admin.unlock_user", "POST"): _console(Permission.USERS_ADMIN),
    ("admin.reset_mfa", "POST"): _console(Permission.USERS_ADMIN, step_up=True),
    ("admin.change_role", "POST"): _console(Permission.USERS_ADMIN, step_up=True),
    ("admin.tokens", "GET"): _console(Permission.TOKENS_ADMIN),
    ("admin.create_token", "POST"): _console(Permission.TOKENS_ADMIN, step_up=True),
    ("admin.revoke_token", "POST"): _console(Permission.TOKENS_ADMIN),
    ("audit.entries", "GET"): _console(Permission.AUDIT_READ),
    ("events.search", "GET"): _console(Permission.EVENTS_READ),
    ("events.save", "POST"): _console(Permission.EVENTS_READ),  # the user's own saved searches
    ("events.delete_saved", "POST"): _console(Permission.EVENTS_READ),
    ("events.dead_letters", "GET"): _console(Permission.EVENTS_READ),
    ("rules.index", "GET"): _console(Permission.RULES_READ),
    ("rules.show", "GET"): _console(Permission.RULES_READ),
    # Testing on pasted events reveals nothing stored; on stored events the view also
    # requires EVENTS_READ (and audits the read).
    ("rules.trial", "POST"): _console(Permission.RULES_READ),
    ("rules.enable", "POST"): _console(Permission.RULES_WRITE),
    # Switching a rule off can blind detection: it needs a fresh password+TOTP confirmation.
    ("rules.disable", "POST"): _console(Permission.RULES_WRITE, step_up=True),
    ("rules.import_form", "GET"): _console(Permission.RULES_WRITE),
    ("rules.upload", "POST"): _console(Permission.RULES_WRITE),
    ("rules.import_pack", "POST"): _console(Permission.RULES_WRITE),
    ("playbooks.index", "GET"): _console(Permission.INCIDENTS_READ),
    ("playbooks.show", "GET"): _console(Permission.INCIDENTS_READ),
    ("playbooks.download", "GET"): _console(Permission.INCIDENTS_READ),
    ("playbooks.import_form", "GET"): _console(Permission.INCIDENTS_WRITE),
    ("playbooks.upload", "POST"): _console(Permission.INCIDENTS_WRITE),
    ("lists.index", "GET"): _console(Permission.RULES_READ),
    ("lists.show", "GET"): _console(Permission.RULES_READ),
    # A list decides what a rule sees as the office or an administrator: taking a value out
    # can blind a rule like switching it off. The confirmation comes before the form.
    ("lists.new", "GET"): _console(Permission.RULES_WRITE, step_up=True),
    ("lists.create", "POST"): _console(Permission.RULES_WRITE, step_up=True),
    ("lists.edit", "GET"): _console(Permission.RULES_WRITE, step_up=True),
    ("lists.save", "POST"): _console(Permission.RULES_WRITE, step_up=True),
    # A detection shows the events it points at: reading it is reading events.
    ("detections.index", "GET"): _console(Permission.ALERTS_READ | Permission.EVENTS_READ),
    ("detections.show", "GET"): _console(Permission.ALERTS_READ | Permission.EVENTS_READ),
    # --- alerts (queue, suppressions, policies) ---
    ("alerts.index", "GET"): _console(Permission.ALERTS_READ),
    ("alerts.news", "GET"): _console(Permission.ALERTS_READ),
    # An alert lists the entities of its events and links to them: reading it is reading events.
    ("alerts.show", "GET"): _console(Permission.ALERTS_READ | Permission.EVENTS_READ),
    ("alerts.bulk", "POST"): _console(Permission.ALERTS_WRITE),  # escalate/merge: view checks
    ("alerts.acknowledge", "POST"): _console(Permission.ALERTS_WRITE),
    ("alerts.close", "POST"): _console(Permission.ALERTS_WRITE),
    ("alerts.suppressions", "GET"): _console(Permission.ALERTS_READ),
    # A suppression can blind detection: it needs a fresh password+TOTP confirmation.
    ("alerts.create_suppression", "POST"): _console(Permission.RULES_WRITE, step_up=True),
    ("alerts.revoke_suppression", "POST"): _console(Permission.RULES_WRITE),
    ("alerts.policies", "GET"): _console(Permission.ALERTS_READ),
    ("alerts.create_policy", "POST"): _console(Permission.RULES_WRITE),
    ("alerts.disable_policy", "POST"): _console(Permission.RULES_WRITE),
    # --- incidents (pages and /api/v1/incidents) ---
    ("incidents.index", "GET"): _console(Permission.INCIDENTS_READ),
    ("incidents.new", "GET"): _console(Permission.INCIDENTS_WRITE),
    ("incidents.new", "POST"): _console(Permission.INCIDENTS_WRITE),
    ("incidents.show", "GET"): _console(Permission.INCIDENTS_READ),
    ("incidents.change_state", "POST"): _console(Permission.INCIDENTS_WRITE),
    ("incidents.edit", "POST"): _console(Permission.INCIDENTS_WRITE),
    ("incidents.add_comment", "POST"): _console(Permission.INCIDENTS_WRITE),
    ("incidents.edit_comment", "POST"): _console(Permission.INCIDENTS_WRITE),
    ("incidents.add_task", "POST"): _console(Permission.INCIDENTS_WRITE),
    ("incidents.update_task", "POST"): _console(Permission.INCIDENTS_WRITE),
    ("incidents.add_entity", "POST"): _console(Permission.INCIDENTS_WRITE),
    ("incidents.merge_into", "POST"): _console(Permission.INCIDENTS_WRITE),
    ("incidents.unmerge", "POST"): _console(Permission.INCIDENTS_WRITE),
    ("api.list_incidents", "GET"): Rule(Access.TOKEN),
    ("api.get_incident", "GET"): Rule(Access.TOKEN),
    ("api.create_incident", "POST"): Rule(Access.TOKEN),
    # --- evidence and incident reports ---
    ("evidence.index", "GET"): _console(Permission.INCIDENTS_READ),
    ("evidence.upload", "POST"): _console(Permission.INCIDENTS_WRITE),
    ("evidence.download", "GET"): _console(Permission.INCIDENTS_READ),
    ("evidence.custody_log", "GET"): _console(Permission.INCIDENTS_READ),
    # An export of everything about an incident: a fresh password+TOTP confirmation.
    ("evidence.report", "GET"): _console(Permission.EXPORT, step_up=True),
    # --- deadlines and notifications ---
    ("deadlines.overview", "GET"): _console(Permission.INCIDENTS_READ),
    ("deadlines.failed", "GET"): _console(Permission.FEEDS_ADMIN),
    ("deadlines.retry", "POST"): _console(Permission.FEEDS_ADMIN),
    ("admin.change_email", "POST"): _console(Permission.USERS_ADMIN),  # where notifications go
    # --- SOC feeds (/api/v1/alerts, webhooks) ---
    ("api.alert_feed", "GET"): Rule(Access.TOKEN),
    ("api.alert_stream", "GET"): Rule(Access.TOKEN),
    ("webhooks.index", "GET"): _console(Permission.FEEDS_ADMIN),
    # A webhook sends alerts out, and its secret proves a message is ours: fresh step-up.
    ("webhooks.create", "POST"): _console(Permission.FEEDS_ADMIN, step_up=True),
    ("webhooks.rotate", "POST"): _console(Permission.FEEDS_ADMIN, step_up=True),
    ("webhooks.disable", "POST"): _console(Permission.FEEDS_ADMIN),
    ("webhooks.enable", "POST"): _console(Permission.FEEDS_ADMIN),
    ("webhooks.dead_letters", "GET"): _console(Permission.FEEDS_ADMIN),
    ("webhooks.replay", "POST"): _console(Permission.FEEDS_ADMIN),
    # --- CEF and STIX ---
    ("api.alerts_stix", "GET"): Rule(Access.TOKEN),
    # --- staff safety: the report form, my reports, /api/v1/reports ---
    ("reports.new", "GET"): _console(Permission.REPORT_SUBMIT),
    ("reports.new", "POST"): _console(Permission.REPORT_SUBMIT),
    ("reports.draft", "GET"): _console(Permission.REPORT_SUBMIT),
    ("reports.draft", "POST"): _console(Permission.REPORT_SUBMIT),
    ("reports.delete", "POST"): _console(Permission.REPORT_SUBMIT),
    ("reports.mine", "GET"): _console(Permission.REPORT_SUBMIT),
    ("reports.show", "GET"): _console(Permission.REPORT_SUBMIT),
    ("reports.add_evidence_later", "POST"): _console(Permission.REPORT_SUBMIT),
    ("api.list_reports", "GET"): Rule(Access.TOKEN),
    ("api.get_report", "GET"): Rule(Access.TOKEN),
    # --- staff safety: cases, workflow, approvals, identity reveal ---
    ("staff_safety.cases", "GET"): _console(Permission.REPORTS_READ),
    ("staff_safety.case", "GET"): _console(Permission.REPORTS_READ),
    **{
        (f"staff_safety.{name}", "POST"): _console(
            Permission.REPORTS_READ | Permission.INCIDENTS_WRITE
        )
        for name in (
            "advance",
            "first_care",
            "register",
            "police_decision",
            "police_filing",
            "police_prosecution",
            "police_damage",
            "record_aftercare",
            "manager",
            "evaluation",
            "decide",
        )
    },
    # Who a pseudonym is: the role, a fresh password+TOTP confirmation and a stated reason.
    ("staff_safety.reveal", "GET"): _console(Permission.IDENTITY_REVEAL, step_up=True),
    ("staff_safety.reveal", "POST"): _console(Permission.IDENTITY_REVEAL, step_up=True),
    # --- staff safety: measures register ---
    ("staff_measures.register", "GET"): _console(Permission.REPORTS_READ),
    ("staff_measures.propose", "POST"): _console(
        Permission.REPORTS_READ | Permission.INCIDENTS_WRITE
    ),
    ("staff_measures.decide", "POST"): _console(
        Permission.REPORTS_READ | Permission.INCIDENTS_WRITE
    ),
    ("staff_measures.end", "POST"): _console(Permission.REPORTS_READ | Permission.INCIDENTS_WRITE),
    # --- staff safety: dossier, statistics, retention ---
    ("staff_records.dossier", "GET"): _console(Permission.EXPORT, step_up=True),
    ("staff_records.statistics", "GET"): _console(Permission.REPORTS_READ),
    ("staff_records.statistics_export", "GET"): _console(Permission.EXPORT, step_up=True),
    ("staff_records.legal_hold", "POST"): _console(Permission.INCIDENTS_WRITE),
    ("staff_records.release_hold", "POST"): _console(Permission.INCIDENTS_WRITE),
    ("staff_records.retention", "GET"): _console(Permission.REPORTS_READ),
}


def rule_for(endpoint: str, method: str) -> Rule | None:
    if method == "HEAD":
        method = "GET"
    if method == "OPTIONS":
        return PUBLIC  # Flask's automatic answer lists methods, nothing else
    return POLICY.get((endpoint, method))
