"""The rules of an offline run: read from files, folders and zips, compiled, problems located.

Every problem is a ``RuleProblem`` (``path:line: message``) and the run goes on with the rules
that are good: a rule pySigma cannot read, one the matcher cannot compile (located at the
document it came from), a second rule with a key already loaded (it would report every hit
twice), a correlation whose rules are missing, and a path that cannot be read at all (a
refused archive: its rules are all left out).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sigma.processing.pipeline import ProcessingPipeline

from detection_rules.engine import RuleSet, compile_rule_set
from detection_rules.errors import DetectionRuleError
from detection_rules.loading import (
    LoadedRule,
    ParsedSource,
    RuleProblem,
    parse_rule_source,
    read_rule_sources,
    resolve_references,
    rule_label,
)


@dataclass
class OfflineRules:
    """The compiled rules and everything found wrong on the way (errors and warnings)."""

    rule_set: RuleSet
    problems: list[RuleProblem] = field(default_factory=list)
    sources: int = 0

    @property
    def rejected(self) -> int:
        """Rules (or unreadable files) left out: one per rule however many errors it has."""
        return len(
            {
                (problem.path, problem.rule or problem.line)
                for problem in self.problems
                if problem.is_error
            }
        )


def read_rules(
    paths: Iterable[str | Path], *, on_source: Callable[[], None] | None = None
) -> tuple[list[ParsedSource], list[RuleProblem]]:
    """Every source under ``paths`` parsed; a path that cannot be read is a problem of its own.

    ``on_source`` is called after each source (a progress bar).
    """
    parsed: list[ParsedSource] = []
    problems: list[RuleProblem] = []
    for path in paths:
        from_path: list[ParsedSource] = []
        try:
            for source in read_rule_sources([path]):
                from_path.append(parse_rule_source(source))
                if on_source is not None:
                    on_source()
        except DetectionRuleError as error:
            # A refused archive is refused whole, not with the members read before the limit.
            problems.append(RuleProblem(str(path), None, error.message, code="source"))
            continue
        parsed.extend(from_path)
    return parsed, problems


def compile_rules(
    parsed: Sequence[ParsedSource],
    *,
    pipeline: ProcessingPipeline,
    problems: Sequence[RuleProblem] = (),
) -> OfflineRules:
    """Link correlations to their rules, drop duplicate keys, compile the rest."""
    linked = resolve_references(parsed)
    found = [*problems, *(problem for source in linked for problem in source.problems)]
    kept = _first_of_each_key([entry for source in linked for entry in source.loaded], found)
    rule_set, rejected = compile_rule_set([entry.rule for entry in kept], pipeline=pipeline)
    by_key = {entry.key: entry for entry in kept}
    for rejection in rejected:
        entry = by_key[rejection.key]
        found.append(
            RuleProblem(
                entry.path,
                entry.line,
                rejection.error.message,
                rule=rule_label(entry.document.data),
                code="unsupported",
            )
        )
    found.sort(key=lambda problem: (problem.path, problem.line or 0))
    return OfflineRules(rule_set, found, sources=len(parsed))


def _first_of_each_key(entries: list[LoadedRule], problems: list[RuleProblem]) -> list[LoadedRule]:
    first: dict[str, LoadedRule] = {}
    for entry in entries:
        earlier = first.get(entry.key)
        if earlier is None:
            first[entry.key] = entry
            continue
        message = (
            f"a rule with the key {entry.key} is already loaded from "
            f"{earlier.path}:{earlier.line}; this one is left out"
        )
        problems.append(
            RuleProblem(
                entry.path,
                entry.line,
                message,
                rule=rule_label(entry.document.data),
                code="duplicate",
            )
        )
    return list(first.values())
