"""Alerts, incidents, playbooks, deadlines, evidence, notifications and SOC feeds.

Empty until the incidents issue lands; the layer exists so the import contract holds.
"""
