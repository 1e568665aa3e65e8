"""Receivers (HTTP, syslog, files), parsers, ECS normalisation and the event pipeline.

Empty until the log-collection issue lands; the layer exists so the import contract holds.
"""
