"""Incidents: state machines, playbooks, comments, tasks, entities, timeline, merges.

    service       create_incident, open_incident_from_alerts, add_alerts_to_incident,
                  transition, update_fields, list_incidents (the names other parts call)
    states        one state machine per incident type (cyber: NIST SP 800-61)
    playbooks     versioned task templates; install_default_playbooks at start-up
    playbook_history  a playbook's versions for the console, a version as YAML to adapt
    comments      append-only comments (an edit is a new version)
    tasks         tasks with assignee, due date and status
    related       entities of an incident, related incidents and alerts
    merge         merge_incidents and unmerge, with provenance
    timeline      what happened to an incident (written by every change)

The modules are imported by name (``from incidents.cases.service import …``) rather than
re-exported here: the alert side calls into ``service`` while ``service`` reads alerts,
and a package that imported everything on import would tie the two into a cycle.
"""
