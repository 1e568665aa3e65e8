"""Sigma v2 correlation rules (event_count, value_count, temporal, temporal_ordered), in process.

``compile_correlation`` turns a pySigma ``SigmaCorrelationRule`` (references resolved) into a
``CompiledCorrelation``; ``CorrelationEngine`` keeps the sliding windows per group, is told of
every base-rule match and returns ``CorrelationHit``s; ``suppressed_rules`` names the rules
whose own alerts Sigma's ``generate: false`` withholds. ``engine`` documents the semantics.
"""

from detection_rules.correlation.compile import (
    CompiledCorrelation,
    Condition,
    CorrelationType,
    Operator,
    compile_correlation,
    suppressed_rules,
)
from detection_rules.correlation.engine import CorrelationEngine, merge_changes
from detection_rules.correlation.state import CorrelationHit
from detection_rules.matcher import rule_key

__all__ = [
    "CompiledCorrelation",
    "Condition",
    "CorrelationEngine",
    "CorrelationHit",
    "CorrelationType",
    "Operator",
    "compile_correlation",
    "merge_changes",
    "rule_key",
    "suppressed_rules",
]
