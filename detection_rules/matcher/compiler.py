"""A pySigma rule, after its processing pipeline, compiled into a ``CompiledRule``.

pySigma parses the YAML, the modifiers and the condition; the pipeline maps field names and
adds the logsource's condition (``Channel``/``EventID`` for Windows, ``wachter.logsource``
for Wachter's own sources). What is left to us is evaluation: each named selection becomes
a closure, the condition (``and``/``or``/``not``, brackets, ``1 of``/``all of`` patterns,
``them``) combines them, and the selections stay addressable for explanations.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionIdentifier,
    ConditionNOT,
    ConditionOR,
    ConditionSelector,
)
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import Placeholder, SigmaNull, SigmaString

from core.i18n import N_
from detection_rules.errors import UnsupportedRule
from detection_rules.matcher.nodes import (
    INDEX_FIELDS,
    Leaf,
    Node,
    SelectionMatch,
    and_node,
    constant_node,
    leaf_node,
    not_node,
    or_node,
)
from detection_rules.matcher.values import Lists, compile_values
from detection_rules.matcher.view import DerivedField, EventView

PIPELINE_SELECTIONS = ("_cond_", "_wachter_logsource_")


def rule_key(rule: Any) -> str:
    """The stable key of a rule: its Sigma id, else its name, else its title."""
    if getattr(rule, "id", None):
        return str(rule.id)
    return str(getattr(rule, "name", None) or rule.title)


@dataclass(frozen=True, eq=False)
class CompiledRule:
    key: str
    id: str | None
    name: str | None
    title: str
    level: str | None
    tags: tuple[str, ...]
    rule: SigmaRule
    placeholders: frozenset[str]
    root: Node = field(repr=False)
    selections: Mapping[str, Node] = field(repr=False)
    index_key: tuple[str, frozenset[str]] | None = None
    version: int | None = None

    def matches(
        self, event: Mapping[str, Any], derived: Mapping[str, DerivedField] | None = None
    ) -> bool:
        return self.root.test(EventView(event, derived))

    def matches_view(self, view: EventView) -> bool:
        return self.root.test(view)

    def explain(
        self,
        event: Mapping[str, Any] | EventView,
        derived: Mapping[str, DerivedField] | None = None,
    ) -> tuple[SelectionMatch, ...]:
        """Which selections matched, on which fields and values (pipeline ones last)."""
        view = event if isinstance(event, EventView) else EventView(event, derived)
        found = []
        for name, node in sorted(self.selections.items(), key=lambda item: item[0].startswith("_")):
            if node.test(view):
                found.append(SelectionMatch(_display_name(name), tuple(node.explain(view))))
        return tuple(found)


def _display_name(name: str) -> str:
    # pySigma's pipelines add their conditions as "_cond_<random>", ours as
    # "_wachter_logsource_<source>"; both say which logsource the event belongs to.
    return "logsource" if name.startswith(PIPELINE_SELECTIONS) else name


def compile_rule(
    rule: SigmaRule,
    *,
    pipeline: ProcessingPipeline | None = None,
    lists: Lists | None = None,
    version: int | None = None,
) -> CompiledRule:
    """Compile ``rule`` (left untouched) through ``pipeline`` with ``|expand`` ``lists``."""
    processed = copy.deepcopy(rule)
    try:
        if pipeline is not None:
            pipeline.apply(processed)
        conditions = [
            condition.parse(postprocess=False) for condition in processed.detection.parsed_condition
        ]
    except SigmaError as error:
        raise UnsupportedRule(
            N_("The rule cannot be prepared for matching: %(reason)s"), reason=str(error)
        ) from error
    except Exception as error:
        # A processing pipeline may fail in ways pySigma does not wrap; the rule is refused
        # with the reason rather than breaking the whole import.
        raise UnsupportedRule(
            N_("The rule cannot be prepared for matching: %(reason)s"), reason=repr(error)
        ) from error
    builder = _Builder(processed, lists or {})
    roots = [builder.condition(condition) for condition in conditions]
    root = roots[0] if len(roots) == 1 else or_node(roots)
    return CompiledRule(
        key=rule_key(rule),
        id=str(rule.id) if rule.id else None,
        name=getattr(rule, "name", None),
        title=rule.title,
        level=rule.level.name.lower() if rule.level else None,
        tags=tuple(str(tag) for tag in rule.tags),
        rule=rule,
        placeholders=frozenset(builder.placeholders),
        root=root,
        selections=builder.selections,
        index_key=choose_index_key(root),
        version=version,
    )


def choose_index_key(root: Node) -> tuple[str, frozenset[str]] | None:
    if not root.keys:
        return None
    by_field = dict(root.keys)
    for preferred in INDEX_FIELDS:
        if preferred in by_field:
            return preferred, by_field[preferred]
    return min(root.keys, key=lambda key: len(key[1]))


class _Builder:
    def __init__(self, rule: SigmaRule, lists: Lists) -> None:
        self.detections = rule.detection
        self.lists = lists
        self.selections: dict[str, Node] = {}
        self.placeholders: set[str] = set()

    def condition(self, item: Any) -> Node:
        if isinstance(item, ConditionIdentifier):
            return self.selection(item.identifier)
        if isinstance(item, ConditionSelector):
            identifiers = item.resolve_referenced_detections(self.detections)
            if not identifiers:
                raise UnsupportedRule(
                    N_("The condition pattern '%(pattern)s' matches no selection."),
                    pattern=item.pattern,
                )
            nodes = [self.selection(identifier.identifier) for identifier in identifiers]
            return and_node(nodes) if item.cond_class is ConditionAND else or_node(nodes)
        if isinstance(item, ConditionNOT):
            return not_node(self.condition(item.args[0]))
        if isinstance(item, ConditionAND | ConditionOR):
            children = [self.condition(arg) for arg in item.args if arg is not None]
            return and_node(children) if isinstance(item, ConditionAND) else or_node(children)
        raise UnsupportedRule(
            N_("The condition element %(element)s is not supported."),
            element=type(item).__name__,
        )

    def selection(self, name: str) -> Node:
        found = self.selections.get(name)
        if found is None:
            detection = self.detections.detections.get(name)
            if detection is None:
                raise UnsupportedRule(
                    N_("The condition names '%(name)s', which is not a selection."), name=name
                )
            found = self.selections[name] = self.detection(detection)
        return found

    def detection(self, detection: SigmaDetection) -> Node:
        children = [
            self.detection(item) if isinstance(item, SigmaDetection) else self.item(item)
            for item in detection.detection_items
        ]
        if not children:
            return constant_node(False)
        if len(children) == 1:
            return children[0]
        return and_node(children) if detection.item_linking is ConditionAND else or_node(children)

    def item(self, item: SigmaDetectionItem) -> Node:
        for value in item.value:
            if isinstance(value, SigmaString):
                self.placeholders.update(
                    part.name for part in value.s if isinstance(part, Placeholder)
                )
        # An empty value list means null, as pySigma reads it.
        values = item.value or [SigmaNull()]
        try:
            tests = compile_values(item.field, values, self.lists)
        except UnsupportedRule as error:
            error.field = item.field
            raise
        leaf = Leaf(
            field=item.field,
            tests=tuple(tests),
            all_values=item.value_linking is ConditionAND and len(tests) > 1,
            negated=item.negated,
        )
        return leaf_node(leaf)
