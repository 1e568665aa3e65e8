"""One single-event Sigma rule as an Elasticsearch/OpenSearch query body (query DSL + Lucene).

pySigma's Elasticsearch backend (``LuceneBackend``, output ``dsl_lucene``) does the
conversion; what is Wachter's is the choice of pipelines and lists:

- the index pattern says whose documents it holds (``EventSource``): Wachter's own events
  get the pipelines the in-process matcher uses for them (``DEFAULT_PIPELINES``), so a rule
  selects the same events in both modes; indices written by Beats or Elastic Agent
  (``winlogbeat-*``) get ``ecs_windows``: pySigma's ECS mapping plus Wachter's note that
  the ``.caseless`` multi-fields exist only in Elastic Agent's index templates
  (``detection_rules/pipelines/ecs_windows_stored.yml``), so the plain field is searched;
- ``|expand`` placeholders (``%office_networks%``) are filled from Wachter's lists
  (``detection_rules.service.get_lists``) by pySigma's ``ValueListPlaceholderTransformation``.

What cannot become one query raises ``ConversionError`` naming the rule: correlation rules
(their base rules are searched and the correlation engine runs on the hits), rules using
the fields the matcher computes from the event time (``wachter.time.*``), a list that does
not exist or is empty, and whatever the backend refuses (field references, ...). The caller
converts rule by rule, so one such rule never stops the others.

Case: Sigma compares strings without case; Lucene compares keyword fields exactly unless
the index maps them with a lowercase normalizer. The indices Wachter creates decide that
(``storage``); for other indices it is the cluster's mapping.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from sigma.backends.elasticsearch.elasticsearch_lucene import LuceneBackend
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import ValueListPlaceholderTransformation
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import Placeholder, SigmaRegularExpression, SigmaString

from core.i18n import N_
from detection_rules.errors import DetectionRuleError
from detection_rules.matcher import DERIVED_FIELD_NAMES, rule_key
from detection_rules.pipelines import DEFAULT_PIPELINES, build_pipeline


class EventSource(StrEnum):
    """Whose documents an index pattern holds, which decides the field pipelines."""

    WACHTER = "wachter"  # Wachter's own event indices
    ECS = "ecs"  # Beats / Elastic Agent indices in ECS (winlogbeat-*, logs-*)


PIPELINES: Final = MappingProxyType(
    {EventSource.WACHTER: DEFAULT_PIPELINES, EventSource.ECS: ("ecs_windows",)}
)


class ConversionError(DetectionRuleError):
    """A rule that cannot run as a scheduled search; ``rule_key`` names it, the message why."""

    def __init__(self, message: str, *, rule: str, **params: object) -> None:
        super().__init__(message, field="rule", rule=rule, **params)
        self.rule_key = rule


def pipelines_for(source: EventSource | str) -> tuple[str, ...]:
    """The pipeline names (``detection_rules.pipelines``) for documents of ``source``."""
    return tuple(PIPELINES[EventSource(source)])


def query_for(
    rule: SigmaRule | SigmaCorrelationRule | str,
    *,
    pipelines: Sequence[str],
    lists: Mapping[str, Sequence[str]],
) -> dict[str, Any]:
    """The search body (``{"query": …}``) selecting the documents ``rule`` matches.

    ``rule`` is a parsed rule or the YAML text of one rule; ``pipelines`` are pipeline names
    (``pipelines_for``); ``lists`` fill ``|expand`` placeholders. Raises ``ConversionError``.
    """
    parsed = _parsed(rule) if isinstance(rule, str) else rule
    key = rule_key(parsed)
    if isinstance(parsed, SigmaCorrelationRule):
        raise ConversionError(
            N_(
                "The rule %(rule)s is a correlation rule: its base rules are searched and "
                "the correlation engine runs on their hits."
            ),
            rule=key,
        )
    _check_fields_and_lists(parsed, key, lists)
    pipeline = _placeholder_pipeline(lists) + build_pipeline(pipelines)
    try:
        queries = LuceneBackend(pipeline).convert_rule(copy.deepcopy(parsed), "dsl_lucene")
    except SigmaError as error:
        raise _not_converted(key, error) from error
    except Exception as error:
        # A pipeline or the backend may fail in ways pySigma does not wrap; the rule is
        # refused with the reason, the others are unaffected.
        raise _not_converted(key, error) from error
    return _one_body(queries)


def _parsed(text: str) -> SigmaRule | SigmaCorrelationRule:
    try:
        rules = SigmaCollection.from_yaml(text, resolve_references=False).rules
    except Exception as error:  # YAML or Sigma errors, whatever pySigma raises for them
        raise ConversionError(
            N_("The rule %(rule)s cannot be read: %(reason)s"), rule="?", reason=str(error)
        ) from error
    if len(rules) != 1 or not isinstance(rules[0], SigmaRule | SigmaCorrelationRule):
        raise ConversionError(
            N_("The text holds %(count)s rules; a search is made of exactly one (%(rule)s)."),
            rule=rule_key(rules[0]) if rules else "?",
            count=len(rules),
        )
    return rules[0]


def _check_fields_and_lists(rule: SigmaRule, key: str, lists: Mapping[str, Sequence[str]]) -> None:
    for item in _detection_items(rule):
        if item.field in DERIVED_FIELD_NAMES:
            raise ConversionError(
                N_(
                    "The rule %(rule)s uses %(name)s, which Wachter's matcher computes "
                    "from the event time; no search index holds it."
                ),
                rule=key,
                name=item.field,
            )
        for name in _placeholders(item):
            if name not in lists:
                raise ConversionError(
                    N_("The rule %(rule)s uses the list %(list)s, which does not exist."),
                    rule=key,
                    list=name,
                )
            if not lists[name]:
                raise ConversionError(
                    N_("The rule %(rule)s uses the list %(list)s, which is empty."),
                    rule=key,
                    list=name,
                )


def _detection_items(rule: SigmaRule) -> Iterator[SigmaDetectionItem]:
    pending: list[SigmaDetection | SigmaDetectionItem] = list(rule.detection.detections.values())
    while pending:
        current = pending.pop()
        if isinstance(current, SigmaDetection):
            pending.extend(current.detection_items)
        else:
            yield current


def _placeholders(item: SigmaDetectionItem) -> Iterator[str]:
    for value in item.value:
        text = value.regexp if isinstance(value, SigmaRegularExpression) else value
        for part in text.s if isinstance(text, SigmaString) else ():
            if isinstance(part, Placeholder):
                yield part.name


def _placeholder_pipeline(lists: Mapping[str, Sequence[str]]) -> ProcessingPipeline:
    return ProcessingPipeline(
        name="Wachter lists",
        priority=0,
        items=[
            ProcessingItem(
                ValueListPlaceholderTransformation(), identifier="wachter_list_placeholders"
            )
        ],
        vars={name: list(values) for name, values in lists.items()},
    )


def _not_converted(key: str, error: Exception) -> ConversionError:
    return ConversionError(
        N_("The rule %(rule)s cannot be converted to a search query: %(reason)s"),
        rule=key,
        reason=str(error) or type(error).__name__,
    )


def _one_body(queries: Sequence[Any]) -> dict[str, Any]:
    bodies = [query for query in queries if isinstance(query, dict)]
    if len(bodies) == 1:
        return bodies[0]
    # A rule with a list of conditions converts to one query per condition: any may match.
    return {
        "query": {"bool": {"should": [body["query"] for body in bodies], "minimum_should_match": 1}}
    }
