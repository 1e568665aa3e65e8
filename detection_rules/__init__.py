"""Sigma rule registry, the in-process matcher, correlation state and the Elasticsearch runner.

Never imports ``incidents`` or ``web``: it returns detections and the pipeline makes alerts.
Empty until the detection-engine issue lands.
"""
