"""Sigma rules: the registry, the in-process matcher, correlations, and both detection modes.

Never imports ``incidents`` or ``web``: it returns detections and the pipeline makes alerts.
docs/detection.md tells how a rule flows from file to alert. The public names:

    DetectionConsumer        the streaming mode: a consumer of the stored event stream
    DetectionEngine, compile_rule_set, Detection, RuleSet   one event in, detections out
    Matcher, compile_rule, CompiledRule, OfficeHours        the single-event matcher
    CorrelationEngine, compile_correlation                  Sigma v2 correlations
    flatten_evtx_record      an .evtx record as Sigma's flat Windows fields (ingest uses it)
    service (registry functions), models, loading, validation, pipelines   by module
"""

from detection_rules.correlation import CorrelationEngine, compile_correlation
from detection_rules.engine import Detection, DetectionEngine, RuleSet, compile_rule_set
from detection_rules.matcher import CompiledRule, Matcher, OfficeHours, compile_rule
from detection_rules.offline.evtx import evtx_error_reason
from detection_rules.offline.evtx import flatten_record as flatten_evtx_record
from detection_rules.streaming import DetectionConsumer

__all__ = [
    "CompiledRule",
    "CorrelationEngine",
    "Detection",
    "DetectionConsumer",
    "DetectionEngine",
    "Matcher",
    "OfficeHours",
    "RuleSet",
    "compile_correlation",
    "compile_rule",
    "compile_rule_set",
    "evtx_error_reason",
    "flatten_evtx_record",
]
