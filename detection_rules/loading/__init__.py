"""Reading Sigma rules: sources (files, folders, zip), documents, rules and their problems.

    read_rule_sources(paths)      -> RuleSource…   (bytes + the name reports use)
    parse_rule_source(source)     -> ParsedSource  (pySigma rules + RuleProblem with lines)
    resolve_references(sources)   -> ParsedSource… (correlations linked to their rules)
    load_rules(paths)             -> list[ParsedSource]  all three, for callers that want it done

Nothing here raises for a bad rule: every problem is a ``RuleProblem`` with file and line.
Only a source that cannot be read at all (a missing path, a refused archive) raises a
``detection_rules.errors.DetectionRuleError``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from detection_rules.loading.parse import (
    AnyRule,
    LoadedRule,
    ParsedSource,
    parse_rule_source,
    rule_key,
    rule_label,
)
from detection_rules.loading.problems import RuleProblem, Severity
from detection_rules.loading.references import resolve_references
from detection_rules.loading.sources import (
    ArchiveLimits,
    RuleSource,
    count_rule_files,
    read_rule_sources,
)

__all__ = [
    "AnyRule",
    "ArchiveLimits",
    "LoadedRule",
    "ParsedSource",
    "RuleProblem",
    "RuleSource",
    "Severity",
    "count_rule_files",
    "load_rules",
    "parse_rule_source",
    "read_rule_sources",
    "resolve_references",
    "rule_key",
    "rule_label",
]


def load_rules(
    paths: Iterable[str | Path], *, limits: ArchiveLimits | None = None
) -> list[ParsedSource]:
    """Read, parse and link every rule under ``paths``."""
    parsed = [parse_rule_source(source) for source in read_rule_sources(paths, limits=limits)]
    return resolve_references(parsed)
