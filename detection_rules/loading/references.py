"""Correlation rules name the rules they correlate; every name must lead to a rule.

References are resolved across everything loaded together (a correlation may sit in
another file than its base rules) and, for imports, the rules already in the registry.
A correlation whose reference leads nowhere is taken out and reported at that reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaRuleNotFoundError

from detection_rules.loading.locate import locate_error, message_of
from detection_rules.loading.parse import AnyRule, ParsedSource, rule_label
from detection_rules.loading.problems import RuleProblem


def resolve_references(
    sources: Sequence[ParsedSource], *, known: Iterable[AnyRule] = ()
) -> list[ParsedSource]:
    """``sources`` with each correlation's references resolved, or the correlation rejected.

    ``known`` are further rules references may lead to (the registry's, for an import).
    Correlations over correlations resolve too; one that leads to a rejected correlation
    is rejected in turn.
    """
    loaded = [entry for source in sources for entry in source.loaded]
    rejected: set[int] = set()
    problems: dict[int, RuleProblem] = {}
    while True:
        kept = [entry.rule for entry in loaded if id(entry) not in rejected]
        collection = SigmaCollection(init_rules=[*known, *kept], resolve_references=False)
        newly_rejected = False
        for entry in loaded:
            if id(entry) in rejected or not isinstance(entry.rule, SigmaCorrelationRule):
                continue
            try:
                entry.rule.resolve_rule_references(collection)
            except SigmaRuleNotFoundError as error:
                line = locate_error(error, entry.document)
                label = rule_label(entry.document.data)
                message = f"{message_of(error)}: no loaded or imported rule has this id or name"
                problems[id(entry)] = RuleProblem(
                    entry.path, line, message, rule=label, code="reference"
                )
                rejected.add(id(entry))
                newly_rejected = True
        if not newly_rejected:
            break
    return [
        ParsedSource(
            source.path,
            loaded=[entry for entry in source.loaded if id(entry) not in rejected],
            problems=[
                *source.problems,
                *(problems[id(entry)] for entry in source.loaded if id(entry) in problems),
            ],
        )
        for source in sources
    ]
