"""The in-process Sigma matcher: rules compiled once into closures, events indexed to rules.

``compile_rule`` turns a pySigma rule (after its processing pipeline) into a
``CompiledRule``; a ``Matcher`` holds many and finds, for one event, the rules it matches.
``CompiledRule.explain`` says which selections matched on which fields and values.
docs/detection.md explains the semantics; the modules say how.
"""

from detection_rules.matcher.compiler import CompiledRule, compile_rule, rule_key
from detection_rules.matcher.derived import DERIVED_FIELD_NAMES, OfficeHours, derived_fields
from detection_rules.matcher.index import Matcher
from detection_rules.matcher.nodes import FieldMatch, SelectionMatch
from detection_rules.matcher.view import EventView

__all__ = [
    "DERIVED_FIELD_NAMES",
    "CompiledRule",
    "EventView",
    "FieldMatch",
    "Matcher",
    "OfficeHours",
    "SelectionMatch",
    "compile_rule",
    "derived_fields",
    "rule_key",
]
