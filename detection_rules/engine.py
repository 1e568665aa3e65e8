"""Rules and correlations together: one event in, its detections out. Used by both modes.

``compile_rule_set`` compiles pySigma rules (single-event and correlation) through one
pipeline; what cannot be compiled is returned with the reason, never silently dropped.
``DetectionEngine.process`` runs the matcher on an event, records each match's explanation,
tells the correlation engine of matches of the rules correlations refer to, and returns
``Detection``s: one per matched rule (unless a correlation's ``generate: false`` withholds
it) and one per correlation hit. The streaming consumer passes event ids as refs and saves
the correlation state; ``wachter detect`` passes the events themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sigma.correlations import SigmaCorrelationRule
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule

from core.i18n import N_
from detection_rules.correlation import (
    CompiledCorrelation,
    CorrelationEngine,
    CorrelationHit,
    compile_correlation,
    suppressed_rules,
)
from detection_rules.errors import DetectionRuleError
from detection_rules.fields import event_time
from detection_rules.matcher import (
    CompiledRule,
    EventView,
    Matcher,
    SelectionMatch,
    compile_rule,
    rule_key,
)
from detection_rules.matcher.view import DerivedField


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[CompiledRule, ...]
    correlations: tuple[CompiledCorrelation, ...] = ()

    def __len__(self) -> int:
        return len(self.rules) + len(self.correlations)


@dataclass(frozen=True)
class Rejected:
    """A rule that could not be compiled, and why."""

    key: str
    title: str
    error: DetectionRuleError


def compile_rule_set(
    rules: Iterable[SigmaRule | SigmaCorrelationRule],
    *,
    pipeline: ProcessingPipeline | None = None,
    lists: Mapping[str, Sequence[str]] | None = None,
    versions: Mapping[str, int] | None = None,
    reuse: Mapping[tuple[str, int | None], CompiledRule] | None = None,
    lists_changed: bool = True,
) -> tuple[RuleSet, list[Rejected]]:
    """Compile every rule; correlations whose referenced rules failed are rejected too.

    ``reuse`` holds rules compiled before, by (key, version): those are taken as they are,
    unless ``lists_changed`` and they use ``|expand`` lists (the streaming engine's rebuild).
    """
    compiled: list[CompiledRule] = []
    pending: list[SigmaCorrelationRule] = []
    rejected: list[Rejected] = []
    versions = versions or {}
    for rule in rules:
        if isinstance(rule, SigmaCorrelationRule):
            pending.append(rule)
            continue
        key = rule_key(rule)
        cached = reuse.get((key, versions.get(key))) if reuse else None
        if cached is not None and not (lists_changed and cached.placeholders):
            compiled.append(cached)
            continue
        try:
            compiled.append(
                compile_rule(rule, pipeline=pipeline, lists=lists, version=versions.get(key))
            )
        except DetectionRuleError as error:
            rejected.append(Rejected(key, rule.title, error))
    known = {rule.key for rule in compiled}
    correlations: list[CompiledCorrelation] = []
    for correlation in pending:
        try:
            candidate = compile_correlation(correlation, pipeline=pipeline)
        except DetectionRuleError as error:
            rejected.append(Rejected(rule_key(correlation), correlation.title, error))
            continue
        correlations.append(candidate)
        known.add(candidate.key)
    correlations = _with_known_references(correlations, known, rejected)
    return RuleSet(tuple(compiled), tuple(correlations)), rejected


def _with_known_references(
    correlations: list[CompiledCorrelation], known: set[str], rejected: list[Rejected]
) -> list[CompiledCorrelation]:
    # A correlation over a rule that failed to compile (or over such a correlation) would
    # never fire; it is rejected with the reason instead. Repeat until nothing changes.
    kept = list(correlations)
    changed = True
    while changed:
        changed = False
        for correlation in list(kept):
            missing = [key for key in correlation.rule_keys if key not in known]
            if missing:
                kept.remove(correlation)
                known.discard(correlation.key)
                error = DetectionRuleError(
                    N_("The correlation refers to a rule that is not available: %(rule)s"),
                    rule=missing[0],
                )
                rejected.append(Rejected(correlation.key, correlation.title, error))
                changed = True
    return kept


@dataclass(frozen=True)
class Detection:
    """One alert-to-be: a rule matched one event, or a correlation fired for a group."""

    rule_key: str
    rule_id: str | None
    rule_name: str | None
    title: str
    level: str | None
    tags: tuple[str, ...]
    version: int | None
    kind: str  # "rule" or "correlation"
    event_refs: tuple[Any, ...]
    time: datetime | None
    explanation: tuple[SelectionMatch, ...] = ()
    group: dict[str, Any] | None = None
    correlation: dict[str, Any] | None = field(default=None)

    def explanation_json(self) -> list[dict[str, Any]]:
        """The explanation as plain data (stored with the detection, shown in the console)."""
        return [
            {
                "selection": selection.selection,
                "fields": [
                    {"field": match.field, "pattern": match.pattern, "value": match.value}
                    for match in selection.fields
                ],
            }
            for selection in self.explanation
        ]


class DetectionEngine:
    def __init__(
        self,
        rule_set: RuleSet,
        *,
        derived: Mapping[str, DerivedField] | None = None,
        versions: Mapping[str, int] | None = None,
        silent: frozenset[str] = frozenset(),
        max_groups: int = 100_000,
        max_events_per_window: int = 1000,
    ) -> None:
        self.rule_set = rule_set
        self.derived = derived
        self.matcher = Matcher(rule_set.rules, derived=derived)
        self.correlations = CorrelationEngine(
            rule_set.correlations,
            max_groups=max_groups,
            max_events_per_window=max_events_per_window,
        )
        self.versions: Mapping[str, int] = dict(versions or {})
        # Rules whose own matches raise nothing: generate: false, or loaded only because
        # an enabled correlation refers to them.
        self._silent = suppressed_rules(rule_set.correlations) | silent
        self._correlated = frozenset(
            key for correlation in rule_set.correlations for key in correlation.rule_keys
        )
        self._rules = {rule.key: rule for rule in rule_set.rules}

    def process(
        self, event: Mapping[str, Any], *, ref: Any, fallback_time: datetime | None = None
    ) -> list[Detection]:
        """The detections ``event`` causes (``ref`` is how detections point back at it)."""
        view = EventView(event, self.derived)
        matched = self.matcher.match_view(view)
        if not matched:
            return []
        moment = event_time(event) or fallback_time
        found: list[Detection] = []
        for rule in matched:
            found.extend(self._matched(rule, view, ref, moment))
        return found

    def record_match(
        self,
        rule_key: str,
        event: Mapping[str, Any],
        *,
        ref: Any,
        fallback_time: datetime | None = None,
    ) -> list[Detection]:
        """The detections of ``rule_key`` matching ``event`` where another matcher decided it.

        The scheduled searches' feeder: the cluster found the event, so the rule is not run
        again here; its detection (with the explanation the matcher gives, which may be
        empty where the cluster's mapping decided differently) and the correlation hits it
        causes come from the same code as ``process``. An unknown rule gives nothing.
        """
        rule = self._rules.get(rule_key)
        if rule is None:
            return []
        view = EventView(event, self.derived)
        return self._matched(rule, view, ref, event_time(event) or fallback_time)

    def _matched(
        self, rule: CompiledRule, view: EventView, ref: Any, moment: datetime | None
    ) -> list[Detection]:
        found: list[Detection] = []
        if rule.key not in self._silent:
            found.append(rule_detection(rule, view, ref, moment, self.versions))
        if rule.key in self._correlated and moment is not None:
            hits = self.correlations.observe(rule.key, view.event, time=moment, event_ref=ref)
            found.extend(correlation_detection(hit, self.versions) for hit in hits)
        return found

    def advance(self, now: datetime) -> list[Detection]:
        """Close correlation windows that ended before ``now`` (``lt``/``lte`` fire here)."""
        return [correlation_detection(hit, self.versions) for hit in self.correlations.advance(now)]


def rule_detection(
    rule: CompiledRule,
    view: EventView,
    ref: Any,
    moment: datetime | None,
    versions: Mapping[str, int],
) -> Detection:
    """The detection of ``rule`` matching the event of ``view`` (with its explanation)."""
    return Detection(
        rule_key=rule.key,
        rule_id=rule.id,
        rule_name=rule.name,
        title=rule.title,
        level=rule.level,
        tags=rule.tags,
        version=rule.version if rule.version is not None else versions.get(rule.key),
        kind="rule",
        event_refs=(ref,),
        time=moment,
        explanation=rule.explain(view),
    )


def correlation_detection(hit: CorrelationHit, versions: Mapping[str, int]) -> Detection:
    """The detection of a correlation hit: its group, value and window."""
    correlation = hit.correlation
    kind = correlation.type
    return Detection(
        rule_key=correlation.key,
        rule_id=correlation.id,
        rule_name=correlation.name,
        title=correlation.title,
        level=correlation.level,
        tags=correlation.tags,
        version=versions.get(correlation.key),
        kind="correlation",
        event_refs=hit.event_refs,
        time=hit.last_time,
        group=dict(hit.group),
        correlation={
            "type": str(kind.value) if hasattr(kind, "value") else str(kind),
            "value": hit.value,
            "first_time": hit.first_time.isoformat(),
            "last_time": hit.last_time.isoformat(),
            "truncated": hit.truncated,
        },
    )
