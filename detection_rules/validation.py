"""Offline validation of loaded rules: pySigma's validators and a compile check by Wachter.

Every installed pySigma validator runs except those that download data: ``attacktag`` and
``d3_fendtag`` fetch MITRE ATT&CK and D3FEND from GitHub on first use and fail without
network (``RuntimeError: Failed to load MITRE ATT&CK data``); Wachter runs where GitHub may
be unreachable, so they are left out (``NETWORK_VALIDATORS``; the test suite proves the rest
run with the network blocked). ``filename_length`` and ``duplicate_filename`` are left out
too: they enforce the SigmaHQ repository's file naming, which says nothing about a rule
Wachter stores by its id (``brute.yml`` would be "too short").

What keeps a rule out (an error) and what is only shown (a warning):

- errors: everything found while reading (YAML, pySigma), an id used twice in one set of
  rules (``identifier_uniqueness``: the registry is keyed by id, one would silently become
  a version of the other), what the matcher or the correlation engine cannot compile, and a
  correlation whose rule was rejected;
- warnings: every other validator finding (style and likely mistakes, such as
  ``wildcards_instead_of_modifiers``, a dangling selection, a missing id), and a ``|expand``
  list that is not defined (it matches nothing until it is). ``strict`` makes them errors.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Final, cast
from uuid import UUID

from sigma.correlations import SigmaCorrelationRule
from sigma.plugins import InstalledSigmaPlugins
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule, SigmaRuleTag
from sigma.validators.base import SigmaRuleValidator, SigmaValidationIssue

from detection_rules.correlation import compile_correlation
from detection_rules.errors import DetectionRuleError
from detection_rules.loading import LoadedRule, ParsedSource, RuleProblem, Severity, rule_label
from detection_rules.loading.locate import key_line, locate_issue
from detection_rules.matcher import compile_rule

NETWORK_VALIDATORS: Final = frozenset({"attacktag", "d3_fendtag"})
REPOSITORY_CONVENTION_VALIDATORS: Final = frozenset({"filename_length", "duplicate_filename"})
ERROR_VALIDATORS: Final = frozenset({"identifier_uniqueness"})
_ISSUE_DETAILS: Final = (str, int, UUID, SigmaRuleTag)


@functools.cache
def offline_validators() -> Mapping[str, type[SigmaRuleValidator]]:
    """pySigma's installed validators by name, without those that need the network.

    (Nor those that check SigmaHQ's file naming: see the module's docstring.)
    """
    discovered = InstalledSigmaPlugins.autodiscover(
        include_backends=False, include_pipelines=False
    ).validators
    # pySigma annotates the values as instances; they are the validator classes.
    classes = cast("dict[str, type[SigmaRuleValidator]]", discovered)
    return {
        name: validator
        for name, validator in sorted(classes.items())
        if name not in NETWORK_VALIDATORS | REPOSITORY_CONVENTION_VALIDATORS
    }


@dataclass(frozen=True)
class CheckCounts:
    """What a check or import found, for the summary line."""

    sources: int
    accepted: int
    rejected: int
    errors: int
    warnings: int


def validate_sources(
    sources: Sequence[ParsedSource],
    *,
    pipeline: ProcessingPipeline | None = None,
    lists: Mapping[str, Sequence[str]] | None = None,
    strict: bool = False,
    progress: Callable[[], object] | None = None,
) -> list[ParsedSource]:
    """``sources`` with validator and compile problems added and every rejected rule removed.

    ``lists`` are the registry's ``|expand`` lists: given, an undefined one is a warning;
    ``None`` (a check without database) says nothing about lists. ``progress`` is called
    once per rule compiled (for a progress bar).
    """
    entries = [entry for source in sources for entry in source.loaded]
    found: dict[int, list[RuleProblem]] = {id(entry): [] for entry in entries}
    for entry, problem in _validator_problems(entries):
        found[id(entry)].append(problem)
    for entry in entries:
        found[id(entry)].extend(_compile_problems(entry, pipeline, lists))
        if progress is not None:
            progress()
    if strict:
        found = {
            key: [replace(problem, severity=Severity.ERROR) for problem in problems]
            for key, problems in found.items()
        }
    rejected = {key for key, problems in found.items() if any(p.is_error for p in problems)}
    _reject_dependants(entries, rejected, found)
    return [
        ParsedSource(
            source.path,
            loaded=[entry for entry in source.loaded if id(entry) not in rejected],
            problems=sorted(
                [*source.problems, *(p for entry in source.loaded for p in found[id(entry)])],
                key=lambda problem: problem.line or 0,
            ),
        )
        for source in sources
    ]


def count(sources: Sequence[ParsedSource]) -> CheckCounts:
    problems = [problem for source in sources for problem in source.problems]
    rejected_rules = {
        (problem.path, problem.rule or problem.line) for problem in problems if problem.is_error
    }
    return CheckCounts(
        sources=len(sources),
        accepted=sum(len(source.loaded) for source in sources),
        rejected=len(rejected_rules),
        errors=sum(1 for problem in problems if problem.is_error),
        warnings=sum(1 for problem in problems if not problem.is_error),
    )


def _validator_problems(entries: Sequence[LoadedRule]) -> list[tuple[LoadedRule, RuleProblem]]:
    """Run every offline validator over all rules (some compare rules with each other)."""
    by_rule = {id(entry.rule): entry for entry in entries}
    found: list[tuple[LoadedRule, RuleProblem]] = []
    for name, validator_class in offline_validators().items():
        validator = validator_class()
        issues = [issue for entry in entries for issue in validator.validate(entry.rule)]
        issues.extend(validator.finalize())
        severity = Severity.ERROR if name in ERROR_VALIDATORS else Severity.WARNING
        for issue in issues:
            for rule in issue.rules:
                entry = by_rule.get(id(rule))
                if entry is not None:
                    found.append((entry, _issue_problem(entry, issue, name, severity)))
    # A validator reports a value once per use; the same line and message once is enough.
    unique = {(id(entry), problem): (entry, problem) for entry, problem in found}
    return list(unique.values())


def _issue_problem(
    entry: LoadedRule, issue: SigmaValidationIssue, name: str, severity: Severity
) -> RuleProblem:
    details = [
        f"{item.name}: {value}"
        for item in fields(issue)
        if item.name != "rules" and isinstance(value := getattr(issue, item.name), _ISSUE_DETAILS)
    ]
    message = type(issue).description + (f" ({', '.join(details)})" if details else "")
    return RuleProblem(
        entry.path,
        locate_issue(issue, entry.document),
        f"{message} [{name}]",
        severity=severity,
        rule=rule_label(entry.document.data),
        code=name,
    )


def _compile_problems(
    entry: LoadedRule,
    pipeline: ProcessingPipeline | None,
    lists: Mapping[str, Sequence[str]] | None,
) -> list[RuleProblem]:
    label = rule_label(entry.document.data)
    try:
        placeholders = _compile_check(entry.rule, pipeline, lists)
    except DetectionRuleError as error:
        line: int | None = getattr(error, "line", None)
        return [
            RuleProblem(
                entry.path,
                line or _compile_line(entry, error.message),
                error.message,
                rule=label,
                code="unsupported",
            )
        ]
    if lists is None:
        return []
    return [
        RuleProblem(
            entry.path,
            key_line(entry.document.node, ("detection",)),
            f"uses the list %{name}%, which is not defined: it matches nothing until it is "
            f"(wachter lists set {name} …)",
            severity=Severity.WARNING,
            rule=label,
            code="undefined_list",
        )
        for name in sorted(placeholders - set(lists))
    ]


def _compile_check(
    rule: SigmaRule | SigmaCorrelationRule,
    pipeline: ProcessingPipeline | None,
    lists: Mapping[str, Sequence[str]] | None,
) -> frozenset[str]:
    """Compile as the matcher will; raises ``UnsupportedRule``; the ``|expand`` lists used."""
    if isinstance(rule, SigmaCorrelationRule):
        compile_correlation(rule, pipeline=pipeline)
        return frozenset()
    return compile_rule(rule, pipeline=pipeline, lists=lists or {}).placeholders


def _compile_line(entry: LoadedRule, message: str) -> int:
    section = "correlation" if entry.is_correlation else "detection"
    if "condition" in message:
        return key_line(entry.document.node, (section, "condition"))
    return key_line(entry.document.node, (section,))


def _reject_dependants(
    entries: Sequence[LoadedRule], rejected: set[int], found: dict[int, list[RuleProblem]]
) -> None:
    """A correlation over a rejected rule cannot work: reject it too (until none is left)."""
    by_rule = {id(entry.rule): entry for entry in entries}
    changed = True
    while changed:
        changed = False
        for entry in entries:
            if id(entry) in rejected or not isinstance(entry.rule, SigmaCorrelationRule):
                continue
            for reference in entry.rule.referenced_rules:
                target = by_rule.get(id(reference.rule))
                if target is not None and id(target) in rejected:
                    found[id(entry)].append(
                        RuleProblem(
                            entry.path,
                            key_line(entry.document.node, ("correlation", "rules")),
                            f"refers to '{reference.reference}', which was rejected",
                            rule=rule_label(entry.document.data),
                            code="reference",
                        )
                    )
                    rejected.add(id(entry))
                    changed = True
                    break
