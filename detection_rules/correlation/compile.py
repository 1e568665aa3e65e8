"""A pySigma correlation rule (Sigma v2) compiled into what the engine needs to evaluate it.

pySigma parses the rule, its timespan and condition and links its ``rules:`` references to the
rule objects (``SigmaCollection.resolve_rule_references``). Compiling settles, once per rule,
what the engine would otherwise work out per event: the key of every referenced rule, the
event field each ``group-by`` name reads for each of them (``aliases``), the field a
``value_count`` counts, and whether the condition is checked as events arrive or when a window
closes. Whatever the engine cannot evaluate is refused here with ``UnsupportedRule``.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

import orjson
from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationFieldAlias,
    SigmaCorrelationFieldAliases,
    SigmaCorrelationRule,
    SigmaRuleReference,
)
from sigma.processing.pipeline import ProcessingPipeline

from core.i18n import N_
from detection_rules.errors import UnsupportedRule
from detection_rules.matcher import rule_key


class CorrelationType(StrEnum):
    EVENT_COUNT = "event_count"
    VALUE_COUNT = "value_count"
    TEMPORAL = "temporal"
    TEMPORAL_ORDERED = "temporal_ordered"


class Operator(StrEnum):
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    EQ = "eq"
    NEQ = "neq"


# "Too few" can only be known once a window is over; the others are checked on every event.
CLOSING_OPERATORS = frozenset({Operator.LT, Operator.LTE})


@dataclass(frozen=True)
class Condition:
    operator: Operator
    count: int

    def holds(self, value: int) -> bool:
        match self.operator:
            case Operator.GT:
                return value > self.count
            case Operator.GTE:
                return value >= self.count
            case Operator.LT:
                return value < self.count
            case Operator.LTE:
                return value <= self.count
            case Operator.EQ:
                return value == self.count
            case Operator.NEQ:
                return value != self.count

    @property
    def closes(self) -> bool:
        """True when the condition is decided when a window closes (``lt``, ``lte``)."""
        return self.operator in CLOSING_OPERATORS

    def __str__(self) -> str:
        return f"{self.operator} {self.count}"


@dataclass(frozen=True, eq=False)
class CompiledCorrelation:
    """A correlation rule ready for ``CorrelationEngine``.

    ``rule_keys`` are the referenced rules' keys in the rule's order (the order
    ``temporal_ordered`` requires); ``group_fields[rule_key]`` is the event field read for
    each ``group_by`` name when that rule matched; ``value_fields[rule_key]`` the field a
    ``value_count`` counts. ``fingerprint`` changes whenever the evaluation would, so state
    saved under another version of the rule is not resumed.
    """

    key: str
    id: str | None
    name: str | None
    title: str
    level: str | None
    tags: tuple[str, ...]
    rule: SigmaCorrelationRule = field(repr=False)
    type: CorrelationType
    rule_keys: tuple[str, ...]
    correlation_keys: frozenset[str]
    generate: bool
    timespan: timedelta
    group_by: tuple[str, ...]
    group_fields: Mapping[str, tuple[str, ...]]
    value_fields: Mapping[str, str]
    condition: Condition
    fingerprint: str
    version: int | None = None

    @property
    def span_micros(self) -> int:
        return self.timespan // timedelta(microseconds=1)


def compile_correlation(
    rule: SigmaCorrelationRule,
    *,
    pipeline: ProcessingPipeline | None = None,
    version: int | None = None,
) -> CompiledCorrelation:
    """Compile ``rule`` (left untouched) through ``pipeline``; refuse what cannot be evaluated.

    The references must be resolved (``SigmaCollection`` does so when it loads rules).
    """
    processed = _processed(rule, pipeline) if pipeline is not None else rule
    key = rule_key(rule)
    correlation_type = _type_of(processed, key)
    condition = _condition_of(processed, key)
    referenced = _referenced(processed, key)
    rule_keys = tuple(rule_key(target) for _, target in referenced)
    _check_rule_list(correlation_type, condition, rule_keys, key)
    group_by = tuple(processed.group_by or ())
    aliases = _aliases(processed, referenced, key)
    group_fields = {
        target: tuple(aliases.get(name, {}).get(target, name) for name in group_by)
        for target in rule_keys
    }
    value_fields = _value_fields(processed, correlation_type, aliases, rule_keys, key)
    # Everything the saved windows depend on (not the title, level or generate).
    evaluation = (correlation_type, rule_keys, processed.timespan.seconds, group_by)
    fingerprint = _fingerprint(*evaluation, group_fields, value_fields, condition)
    return CompiledCorrelation(
        key=key,
        id=str(rule.id) if rule.id else None,
        name=rule.name,
        title=rule.title,
        level=rule.level.name.lower() if rule.level else None,
        tags=tuple(str(tag) for tag in rule.tags),
        rule=rule,
        type=correlation_type,
        rule_keys=rule_keys,
        correlation_keys=frozenset(
            rule_key(target) for _, target in referenced if isinstance(target, SigmaCorrelationRule)
        ),
        generate=bool(processed.generate),
        timespan=timedelta(seconds=processed.timespan.seconds),
        group_by=group_by,
        group_fields=group_fields,
        value_fields=value_fields,
        condition=condition,
        fingerprint=fingerprint,
        version=version,
    )


def suppressed_rules(correlations: Iterable[CompiledCorrelation]) -> frozenset[str]:
    """Keys of rules whose own alerts are not emitted because correlations consume them.

    Sigma's ``generate`` (default false) says whether the rules a correlation refers to are
    also alerts of their own. A rule (base rule or correlation) is suppressed when at least
    one correlation refers to it and none of those says ``generate: true``: one correlation
    asking for the base alerts is enough to keep them. (pySigma's converters suppress a rule
    as soon as any referring correlation lacks ``generate``; we let an explicit ``true`` win.)
    """
    wanted: dict[str, bool] = {}
    for correlation in correlations:
        for target in correlation.rule_keys:
            wanted[target] = wanted.get(target, False) or correlation.generate
    return frozenset(target for target, generate in wanted.items() if not generate)


def _processed(rule: SigmaCorrelationRule, pipeline: ProcessingPipeline) -> SigmaCorrelationRule:
    # A deep copy would copy every referenced rule (and what refers to them); a pipeline
    # only rewrites group-by, the alias mappings, the condition field and the fields list.
    processed = copy.copy(rule)
    processed.group_by = list(rule.group_by) if rule.group_by is not None else None
    processed.fields = list(rule.fields)
    processed.condition = copy.copy(rule.condition)
    processed.aliases = SigmaCorrelationFieldAliases(
        {
            name: SigmaCorrelationFieldAlias(alias.alias, dict(alias.mapping))
            for name, alias in rule.aliases.aliases.items()
        }
    )
    processed.applied_processing_items = set(rule.applied_processing_items)
    try:
        pipeline.apply(processed)
    except Exception as error:
        # Pipelines fail in ways pySigma does not always wrap; the rule is refused with the
        # reason rather than breaking a whole import.
        raise UnsupportedRule(
            N_("The correlation rule %(rule)s cannot be prepared: %(reason)s"),
            field=rule_key(rule),
            rule=rule_key(rule),
            reason=str(error) or repr(error),
        ) from error
    return processed


def _type_of(rule: SigmaCorrelationRule, key: str) -> CorrelationType:
    name = str(rule.type.name).lower()
    try:
        return CorrelationType(name)
    except ValueError:
        raise UnsupportedRule(
            N_(
                "The correlation rule %(rule)s has type %(type)s; supported are event_count, "
                "value_count, temporal and temporal_ordered"
            ),
            field=key,
            rule=key,
            type=name,
        ) from None


def _condition_of(rule: SigmaCorrelationRule, key: str) -> Condition:
    condition = rule.condition
    if not isinstance(condition, SigmaCorrelationCondition):
        raise UnsupportedRule(
            N_(
                "The correlation rule %(rule)s uses an extended condition (%(condition)s); "
                "only a count condition (gt, gte, lt, lte, eq, neq) is supported"
            ),
            field=key,
            rule=key,
            condition=str(getattr(condition, "expression", condition)),
        )
    return Condition(Operator(condition.op.name.lower()), int(condition.count))


def _referenced(rule: SigmaCorrelationRule, key: str) -> list[tuple[SigmaRuleReference, Any]]:
    references = rule.referenced_rules or rule.rules or []
    resolved = []
    for reference in references:
        target = getattr(reference, "rule", None)
        if target is None:
            raise UnsupportedRule(
                N_(
                    "The correlation rule %(rule)s refers to %(reference)s, which is not among "
                    "the loaded rules"
                ),
                field=key,
                rule=key,
                reference=reference.reference,
            )
        resolved.append((reference, target))
    if not resolved:
        raise UnsupportedRule(
            N_("The correlation rule %(rule)s refers to no rules"), field=key, rule=key
        )
    return resolved


def _check_rule_list(
    correlation_type: CorrelationType, condition: Condition, rule_keys: tuple[str, ...], key: str
) -> None:
    temporal = correlation_type in {CorrelationType.TEMPORAL, CorrelationType.TEMPORAL_ORDERED}
    if correlation_type is CorrelationType.TEMPORAL and len(set(rule_keys)) != len(rule_keys):
        raise UnsupportedRule(
            N_("The temporal correlation rule %(rule)s lists a rule twice"), field=key, rule=key
        )
    # A window holds at least one event (one value, one rule); temporal conditions count the
    # referenced rules seen, so they never exceed the number of rules referred to.
    largest = len(rule_keys) if temporal else condition.count + 2
    if not any(condition.holds(value) for value in range(1, largest + 1)):
        raise UnsupportedRule(
            N_(
                "The correlation rule %(rule)s can never match: no window of it can satisfy "
                "its condition (%(condition)s)"
            ),
            field=key,
            rule=key,
            condition=str(condition),
        )


def _aliases(
    rule: SigmaCorrelationRule, referenced: list[tuple[SigmaRuleReference, Any]], key: str
) -> dict[str, dict[str, str]]:
    """alias name -> referenced rule key -> the event field it stands for."""
    by_reference = {reference.reference: rule_key(target) for reference, target in referenced}
    for _, target in referenced:
        for spelling in (target.name, str(target.id) if target.id else None):
            if spelling:
                by_reference.setdefault(spelling, rule_key(target))
    aliases: dict[str, dict[str, str]] = {}
    for alias in rule.aliases:
        mapping: dict[str, str] = {}
        for reference, field_name in alias.mapping.items():
            target_key = by_reference.get(reference.reference)
            if target_key is None:
                raise UnsupportedRule(
                    N_(
                        "The alias %(alias)s of correlation rule %(rule)s names %(reference)s, "
                        "which the correlation does not refer to"
                    ),
                    field=key,
                    alias=alias.alias,
                    rule=key,
                    reference=reference.reference,
                )
            mapping[target_key] = str(field_name)
        aliases[alias.alias] = mapping
    return aliases


def _value_fields(
    rule: SigmaCorrelationRule,
    correlation_type: CorrelationType,
    aliases: Mapping[str, Mapping[str, str]],
    rule_keys: tuple[str, ...],
    key: str,
) -> dict[str, str]:
    if correlation_type is not CorrelationType.VALUE_COUNT:
        return {}
    condition = rule.condition
    fieldref = getattr(condition, "fieldref", None)
    if isinstance(fieldref, list):
        if len(fieldref) != 1:
            raise UnsupportedRule(
                N_(
                    "The value_count rule %(rule)s counts several fields (%(fields)s); "
                    "only one is supported"
                ),
                field=key,
                rule=key,
                fields=", ".join(str(name) for name in fieldref),
            )
        fieldref = fieldref[0]
    if not fieldref:
        raise UnsupportedRule(
            N_("The value_count rule %(rule)s names no field to count"), field=key, rule=key
        )
    name = str(fieldref)
    return {target: aliases.get(name, {}).get(target, name) for target in rule_keys}


def _fingerprint(*parts: Any) -> str:
    encoded = orjson.dumps(parts, default=str, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(encoded).hexdigest()[:16]
