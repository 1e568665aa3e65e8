"""Importing rules into the registry: new rules, new versions of edited ones, nothing twice.

A rule is known by its key (its Sigma id, else its name, else its title). Re-importing the
same text changes nothing; an edited text becomes the next version, and the versions
before it stay as they were, because detections point at the version that fired. Every
rule is read, validated and compile-checked first; a rule with an error is not imported
and the others are, so one bad file never holds back a rule pack.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingPipeline
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from access_control import Actor, record_audit
from detection_rules.loading import (
    AnyRule,
    LoadedRule,
    ParsedSource,
    RuleProblem,
    RuleSource,
    parse_rule_source,
    resolve_references,
    rule_label,
)
from detection_rules.models import DetectionRule, DetectionRuleVersion, RuleKind, RuleOrigin
from detection_rules.pipelines import default_pipeline
from detection_rules.service.lists import get_lists
from detection_rules.validation import CheckCounts, count, validate_sources


class ImportOutcome(StrEnum):
    CREATED = "created"
    NEW_VERSION = "new version"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class ImportedRule:
    key: str
    title: str
    outcome: ImportOutcome
    version: int
    path: str
    line: int


@dataclass(frozen=True)
class ImportReport:
    """What happened to each good rule, and every problem (rejected rules and warnings)."""

    rules: tuple[ImportedRule, ...]
    problems: tuple[RuleProblem, ...]
    counts: CheckCounts

    def with_outcome(self, outcome: ImportOutcome) -> list[ImportedRule]:
        return [rule for rule in self.rules if rule.outcome is outcome]

    @property
    def has_errors(self) -> bool:
        return any(problem.is_error for problem in self.problems)


def text_digest(text: str) -> str:
    """SHA-256 of ``text`` with line ends unified and trailing blanks removed."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    normalised = "\n".join(line.rstrip() for line in lines).strip("\n") + "\n"
    return hashlib.sha256(normalised.encode()).hexdigest()


def import_rules(
    session: Session,
    sources: Iterable[RuleSource | ParsedSource],
    *,
    actor: Actor,
    now: datetime,
    origin: RuleOrigin = RuleOrigin.IMPORTED,
    enabled: bool = True,
    pipeline: ProcessingPipeline | None = None,
    progress: Callable[[], object] | None = None,
) -> ImportReport:
    """Read, check and store ``sources``; ``enabled`` applies to rules new to the registry.

    ``pipeline`` is what rules are compile-checked with (default: the service's own
    pipelines). Correlations may refer to rules imported earlier. ``progress`` is called
    once per rule checked.
    """
    parsed = [
        source if isinstance(source, ParsedSource) else parse_rule_source(source)
        for source in sources
    ]
    linked = resolve_references(parsed, known=_registry_rules(session, parsed))
    checked = validate_sources(
        linked,
        pipeline=pipeline or default_pipeline(),
        lists=get_lists(session),
        progress=progress,
    )
    checked = _reject_duplicate_keys(checked)
    stored = [
        _store(session, entry, actor=actor, now=now, origin=origin, enabled=enabled)
        for source in checked
        for entry in source.loaded
    ]
    problems = tuple(problem for source in checked for problem in source.problems)
    return ImportReport(rules=tuple(stored), problems=problems, counts=count(checked))


def _store(
    session: Session,
    entry: LoadedRule,
    *,
    actor: Actor,
    now: datetime,
    origin: RuleOrigin,
    enabled: bool,
) -> ImportedRule:
    digest = text_digest(entry.text)
    rule = session.get(DetectionRule, entry.key)
    if rule is None:
        rule = DetectionRule(key=entry.key, enabled=enabled, created_at=now, current_version=0)
        session.add(rule)
        outcome = ImportOutcome.CREATED
    else:
        current = session.scalars(
            select(DetectionRuleVersion).where(
                DetectionRuleVersion.rule_key == rule.key,
                DetectionRuleVersion.version == rule.current_version,
            )
        ).one()
        if current.sha256 == digest:
            return _imported(entry, rule, ImportOutcome.UNCHANGED)
        outcome = ImportOutcome.NEW_VERSION
    _describe(rule, entry.rule, origin=origin, now=now)
    rule.current_version += 1
    session.add(
        DetectionRuleVersion(
            rule_key=rule.key,
            version=rule.current_version,
            text=entry.text,
            sha256=digest,
            source_path=entry.path,
            created_at=now,
            created_by=actor.name,
        )
    )
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="detection_rule.created"
        if outcome is ImportOutcome.CREATED
        else "detection_rule.versioned",
        target=f"detection_rule:{rule.key}",
        outcome="success",
        now=now,
        details={"version": rule.current_version, "origin": str(origin), "path": entry.path},
    )
    return _imported(entry, rule, outcome)


def _describe(
    rule: DetectionRule, sigma_rule: AnyRule, *, origin: RuleOrigin, now: datetime
) -> None:
    """Copy what listings show from the rule being stored."""
    is_correlation = isinstance(sigma_rule, SigmaCorrelationRule)
    rule.kind = RuleKind.CORRELATION if is_correlation else RuleKind.RULE
    rule.name = sigma_rule.name
    rule.title = sigma_rule.title
    rule.level = sigma_rule.level.name.lower() if sigma_rule.level else None
    rule.status = sigma_rule.status.name.lower() if sigma_rule.status else None
    rule.origin = origin
    rule.updated_at = now


def _imported(entry: LoadedRule, rule: DetectionRule, outcome: ImportOutcome) -> ImportedRule:
    return ImportedRule(
        key=rule.key,
        title=rule.title,
        outcome=outcome,
        version=rule.current_version,
        path=entry.path,
        line=entry.line,
    )


def _reject_duplicate_keys(sources: Sequence[ParsedSource]) -> list[ParsedSource]:
    """Two rules of one import with one key (no id, same title): the first one wins."""
    first: dict[str, LoadedRule] = {}
    duplicates: set[int] = set()
    for source in sources:
        for entry in source.loaded:
            if entry.key in first:
                duplicates.add(id(entry))
            else:
                first[entry.key] = entry
    if not duplicates:
        return list(sources)
    return [
        ParsedSource(
            source.path,
            loaded=[entry for entry in source.loaded if id(entry) not in duplicates],
            problems=sorted(
                [
                    *source.problems,
                    *(
                        _duplicate_problem(entry, first[entry.key])
                        for entry in source.loaded
                        if id(entry) in duplicates
                    ),
                ],
                key=lambda problem: problem.line or 0,
            ),
        )
        for source in sources
    ]


def _duplicate_problem(entry: LoadedRule, first: LoadedRule) -> RuleProblem:
    return RuleProblem(
        entry.path,
        entry.line,
        f"another rule of this import has the key '{entry.key}' ({first.path}:{first.line}); "
        "give each rule its own id",
        rule=rule_label(entry.document.data),
        code="duplicate_key",
    )


def _registry_rules(session: Session, sources: Sequence[ParsedSource]) -> list[AnyRule]:
    """The registry's rules that correlations of this import refer to, outside the import."""
    loaded = [entry for source in sources for entry in source.loaded]
    local = {entry.key for entry in loaded} | {
        entry.rule.name for entry in loaded if entry.rule.name
    }
    wanted = {
        reference
        for entry in loaded
        if isinstance(entry.rule, SigmaCorrelationRule)
        for reference in referenced_names(entry.rule)
    } - local
    if not wanted:
        return []
    rows = session.execute(
        select(DetectionRuleVersion.text)
        .join(DetectionRule, DetectionRule.key == DetectionRuleVersion.rule_key)
        .where(DetectionRuleVersion.version == DetectionRule.current_version)
        .where(or_(DetectionRule.key.in_(wanted), DetectionRule.name.in_(wanted)))
    ).scalars()
    return [rule for text in rows for rule in _rules_of(text)]


def referenced_names(rule: SigmaCorrelationRule) -> list[str]:
    """The ids or names a correlation refers to (its ``rules``, else its condition's)."""
    if rule.rules:
        return [reference.reference for reference in rule.rules]
    condition = rule.condition
    return list(getattr(condition, "get_referenced_rules", list)())


def _rules_of(text: str) -> list[AnyRule]:
    try:
        return list(SigmaCollection.from_yaml(text, resolve_references=False).rules)
    except (SigmaError, ValueError):  # a stored version always read; never fail an import on it
        return []
