"""Alerts, incidents, playbooks, deadlines, evidence, notifications and SOC feeds.

Subpackages: ``alerts`` (detections become alerts), ``cases`` (incidents, their state
machines, playbooks, comments, tasks, entities, timeline, merges), ``evidence``,
``reports`` (the incident report as PDF), ``deadlines``, ``notifications`` and ``feeds``
(what goes out to the SOC). docs/incidents.md and docs/feeds.md describe them.
"""
