"""Words for the stored values a report prints (types, states, severities, timeline kinds).

English, marked with ``N_`` so the catalogue carries them; the report translates them. A
value without a label (a state added later) prints as stored, underscores as spaces.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.i18n import N_

TYPES = {
    "cyber": N_("Cyber"),
    "staff_safety": N_("Staff safety"),
    "physical": N_("Physical"),
}
SEVERITIES = {
    "informational": N_("informational"),
    "low": N_("low"),
    "medium": N_("medium"),
    "high": N_("high"),
    "critical": N_("critical"),
}
STATES = {
    "new": N_("new"),
    "triage": N_("triage"),
    "containment": N_("containment"),
    "eradication": N_("eradication"),
    "recovery": N_("recovery"),
    "post_incident_review": N_("post-incident review"),
    "response": N_("response"),
    "review": N_("review"),
    # the staff-safety machine's phases (ELA/VPT), in the words of its case pages
    "reported": N_("received"),
    "first_care": N_("first care"),
    "registered": N_("registered"),
    "police_report_decision": N_("police report decision"),
    "aftercare": N_("aftercare"),
    "measures": N_("measures"),
    "evaluation": N_("evaluation"),
    "closed": N_("closed"),
    "merged": N_("merged"),
}
RESOLUTIONS = {
    "resolved": N_("resolved"),
    "false_positive": N_("false positive"),
    "duplicate": N_("duplicate"),
    "benign": N_("benign"),
    "true_positive": N_("true positive"),
}
TASK_STATUSES = {
    "open": N_("open"),
    "in_progress": N_("in progress"),
    "done": N_("done"),
    "skipped": N_("skipped"),
}
ENTITY_KINDS = {
    "ip": N_("IP address"),
    "account": N_("Account"),
    "host": N_("Host"),
    "email": N_("E-mail address"),
    "phone": N_("Phone number"),
    "case_reference": N_("Case reference"),
    "person_pseudonym": N_("Person (pseudonym)"),
}
TIMELINE = {
    "created": N_("Incident created"),
    "state_changed": N_("State changed"),
    "assigned": N_("Assigned"),
    "alert_added": N_("Alert added"),
    "comment_added": N_("Comment added"),
    "comment_edited": N_("Comment edited"),
    "task_added": N_("Task added"),
    "task_changed": N_("Task changed"),
    "evidence_added": N_("Evidence added"),
    "entity_added": N_("Entity added"),
    "merged": N_("Merged"),
    "unmerged": N_("Un-merged"),
    "deadline_breached": N_("Deadline breached"),
    "report_exported": N_("Report exported"),
}
# What each TLP 2.0 label allows (FIRST's definitions, shortened).
TLP_MEANINGS = {
    "clear": N_("Disclosure is not limited."),
    "green": N_("Limited disclosure: the recipients' community, not public channels."),
    "amber": N_("Limited disclosure: the recipients' organisation and its clients, need to know."),
    "amber+strict": N_("Limited disclosure: the recipients' organisation only, need to know."),
    "red": N_("For the eyes and ears of the individual recipients only; no further disclosure."),
}


def label(labels: Mapping[str, str], value: str) -> str:
    """The English label of ``value`` (to be translated), or the value made readable."""
    return labels.get(value, value.replace("_", " "))


def tlp_meaning(tlp: str) -> str:
    return TLP_MEANINGS.get(tlp, "")
