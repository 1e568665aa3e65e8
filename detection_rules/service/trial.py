"""Trying a rule on events before trusting it: the console's "test this rule" box.

A trial runs the rule's current version on pasted ECS documents or on the newest stored
events: how many were tested, how many matched and, for each match, why. It takes the live
engine's own path (``compile_rule_set`` with the default pipeline and the registry's
``|expand`` lists, then ``DetectionEngine.process`` with the derived time fields), so a
trial cannot disagree with detection. It stores nothing: no detection, no correlation
state, no alert (the engine is built here and thrown away).

A correlation is tried through its base rules (followed through correlations of
correlations): each event meets the rules the correlation counts and a match names its
base rule. Windows are not simulated: a trial shows which events would be counted, not
whether the threshold would be reached.

Pasted text is bounded (``MAX_PASTED_BYTES``, ``MAX_PASTED_EVENTS``); each line (JSON lines)
or item (a JSON array) that is not a JSON object is reported by number and the others are
still tested. Stored events are the newest ``count`` by id: a logsource's condition spans
several fields (dataset, facility, process, channel) that no single index narrows, so the
rule's own logsource condition does the narrowing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import astuple, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

import orjson
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import InvalidInput
from core.i18n import N_
from detection_rules.engine import Detection, DetectionEngine, compile_rule_set
from detection_rules.errors import DetectionRuleError
from detection_rules.fields import MISSING, event_time, lookup
from detection_rules.matcher import OfficeHours, derived_fields
from detection_rules.models import DetectionRule, RuleKind
from detection_rules.pipelines import default_pipeline
from detection_rules.service.detections import Explanation, MatchedField, MatchedSelection
from detection_rules.service.imports import referenced_names
from detection_rules.service.lists import get_lists
from detection_rules.service.rules import find_rule, get_rule, get_rule_version
from storage.events import Event

log = logging.getLogger("wachter.detection")

MAX_PASTED_BYTES: Final = 1024 * 1024
MAX_PASTED_EVENTS: Final = 200
RECENT_CHOICES: Final = (100, 1_000, 10_000)
DEFAULT_RECENT: Final = 1_000
MAX_MATCHES_SHOWN: Final = 50
_NOT_JSON: Final = object()
_MATCHER_FAILED: Final = N_("The matcher failed on this event.")
_SHOWN_TEXT: Final = 300  # characters of a dataset, host, user or message in the summary


class TrialSource(StrEnum):
    PASTED = "pasted"
    STORED = "stored"


class Position(StrEnum):
    """What an event's number counts: a pasted line, a pasted array's item, a stored id."""

    LINE = "line"
    ITEM = "item"
    EVENT = "event"


@dataclass(frozen=True)
class BadEvent:
    """An event that was not tested; ``reason`` is an English message marked for translation."""

    position: Position
    number: int
    reason: str


@dataclass(frozen=True)
class PastedEvents:
    """Pasted ECS documents with their line (or item) number, and what could not be read."""

    documents: tuple[tuple[int, dict[str, Any]], ...]
    bad: tuple[BadEvent, ...]
    position: Position


@dataclass(frozen=True)
class TrialEvent:
    """What the result shows of an event: never the whole document."""

    position: Position
    number: int  # the pasted line or item, or the stored event's id
    time: datetime | None
    dataset: str | None
    host: str | None
    user: str | None
    message: str | None


@dataclass(frozen=True)
class TrialMatch:
    """A rule that matched an event (a correlation's base rule, for a correlation)."""

    event: TrialEvent
    rule_key: str
    title: str
    explanation: Explanation


@dataclass(frozen=True)
class TrialResult:
    """``matched`` counts events (an event matching two base rules counts once);
    ``matches`` holds the first ``MAX_MATCHES_SHOWN`` (event, rule) pairs."""

    rule_key: str
    version: int
    source: TrialSource
    tested: int
    matched: int
    matches: tuple[TrialMatch, ...]
    bad: tuple[BadEvent, ...] = ()
    base_rules: tuple[str, ...] = ()  # a correlation's rules that were run

    @property
    def is_correlation(self) -> bool:
        return bool(self.base_rules)


def read_pasted_events(text: str) -> PastedEvents:
    """JSON lines, or one JSON array, of ECS documents; bounded, each problem numbered."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_PASTED_BYTES:
        raise InvalidInput(
            N_("Paste at most %(limit)d MiB of events."),
            field="events",
            limit=MAX_PASTED_BYTES // (1024 * 1024),
        )
    if not text.strip():
        raise InvalidInput(
            N_("Paste one or more events (JSON) to test the rule on."), field="events"
        )
    if text.lstrip().startswith("["):
        return _pasted_array(text)
    return _pasted_lines(text)


def _pasted_lines(text: str) -> PastedEvents:
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    _check_count(len(lines))
    items: list[tuple[int, object]] = []
    for number, line in lines:
        try:
            items.append((number, orjson.loads(line)))
        except orjson.JSONDecodeError:
            items.append((number, _NOT_JSON))
    return _documents(items, Position.LINE)


def _pasted_array(text: str) -> PastedEvents:
    try:
        loaded = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        # One array: nothing can be tested, but the reader learns where it broke.
        reason = N_("The JSON array is not valid JSON from this line on; nothing was tested.")
        return PastedEvents((), (BadEvent(Position.LINE, error.lineno, reason),), Position.LINE)
    items = list(enumerate(loaded if isinstance(loaded, list) else [loaded], 1))
    _check_count(len(items))
    return _documents(items, Position.ITEM)


def _documents(items: Sequence[tuple[int, object]], position: Position) -> PastedEvents:
    documents: list[tuple[int, dict[str, Any]]] = []
    bad: list[BadEvent] = []
    for number, item in items:
        if isinstance(item, dict):
            documents.append((number, item))
        elif item is _NOT_JSON:
            bad.append(BadEvent(position, number, N_("This line is not valid JSON.")))
        else:
            bad.append(BadEvent(position, number, N_("An event is a JSON object: {…}.")))
    return PastedEvents(tuple(documents), tuple(bad), position)


def _check_count(count: int) -> None:
    if count > MAX_PASTED_EVENTS:
        raise InvalidInput(
            N_("Paste at most %(limit)d events; these are %(count)d."),
            field="events",
            limit=MAX_PASTED_EVENTS,
            count=count,
        )


def try_rule_on_pasted(
    session: Session,
    key: str,
    text: str,
    *,
    office_hours: OfficeHours | None = None,
    pipeline: ProcessingPipeline | None = None,
) -> TrialResult:
    """Rule ``key`` (its current version) on pasted events; nothing is stored."""
    pasted = read_pasted_events(text)
    rule = get_rule(session, key)
    engine, base_rules = _trial_engine(session, rule, office_hours, pipeline)
    candidates = (
        (_summary(document, pasted.position, number), document, None)
        for number, document in pasted.documents
    )
    source, bad = TrialSource.PASTED, pasted.bad
    return _evaluate(engine, rule, source=source, candidates=candidates, base=base_rules, bad=bad)


def try_rule_on_recent(
    session: Session,
    key: str,
    *,
    count: int = DEFAULT_RECENT,
    office_hours: OfficeHours | None = None,
    pipeline: ProcessingPipeline | None = None,
) -> TrialResult:
    """Rule ``key`` on the newest ``count`` stored events (a read of event data: the caller
    records it in the audit trail); nothing is stored."""
    if count not in RECENT_CHOICES:
        raise InvalidInput(N_("Choose a number of events from the list."), field="count")
    rule = get_rule(session, key)
    engine, base_rules = _trial_engine(session, rule, office_hours, pipeline)
    recent, source = _recent_events(session, count), TrialSource.STORED
    return _evaluate(engine, rule, source=source, candidates=recent, base=base_rules, bad=())


def _recent_events(
    session: Session, count: int
) -> Iterator[tuple[TrialEvent, dict[str, Any], datetime]]:
    query = (
        select(Event.id, Event.timestamp, Event.dataset, Event.host_name, Event.user_name)
        .add_columns(Event.document)
        .order_by(Event.id.desc())
        .limit(count)
    )
    for event_id, moment, dataset, host, user, document in session.execute(query):
        loaded = orjson.loads(document)
        shown = TrialEvent(
            Position.EVENT, event_id, moment, dataset, host, user, _text(loaded, "message")
        )
        yield shown, loaded, moment


def _summary(document: Mapping[str, Any], position: Position, number: int) -> TrialEvent:
    return TrialEvent(
        position=position,
        number=number,
        time=event_time(document),
        dataset=_text(document, "event.dataset"),
        host=_text(document, "host.name"),
        user=_text(document, "user.name"),
        message=_text(document, "message"),
    )


def _text(document: Mapping[str, Any], name: str) -> str | None:
    value = lookup(document, name)
    if value is MISSING or value is None:
        return None
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    return text[:_SHOWN_TEXT]


def _trial_engine(
    session: Session,
    rule: DetectionRule,
    office_hours: OfficeHours | None,
    pipeline: ProcessingPipeline | None,
) -> tuple[DetectionEngine, tuple[str, ...]]:
    """The engine live detection would build for this rule (or a correlation's base rules)."""
    texts = _texts_to_run(session, rule)
    sigma_rules = [sigma for _key, _version, text in texts for sigma in _single_event_rules(text)]
    versions = {key: version for key, version, _text in texts}
    rule_set, rejected = compile_rule_set(
        sigma_rules,
        pipeline=pipeline or default_pipeline(),
        lists=get_lists(session),
        versions=versions,
    )
    if rejected:
        raise rejected[0].error
    engine = DetectionEngine(rule_set, derived=derived_fields(office_hours), versions=versions)
    base_rules = (
        tuple(key for key, _version, _text in texts) if rule.kind == RuleKind.CORRELATION else ()
    )
    return engine, base_rules


def _texts_to_run(session: Session, rule: DetectionRule) -> list[tuple[str, int, str]]:
    """(key, version, text) of the rule, or of every single-event rule a correlation uses."""
    if rule.kind != RuleKind.CORRELATION:
        return [(rule.key, rule.current_version, get_rule_version(session, rule.key).text)]
    found: dict[str, tuple[str, int, str]] = {}
    seen = {rule.key}
    pending = [get_rule_version(session, rule.key).text]
    while pending:
        for reference in _references(pending.pop()):
            base = find_rule(session, reference)
            if base is None:
                raise DetectionRuleError(
                    N_("The correlation refers to a rule that is not available: %(rule)s"),
                    rule=reference,
                )
            if base.key in seen:
                continue
            seen.add(base.key)
            text = get_rule_version(session, base.key).text
            if base.kind == RuleKind.CORRELATION:
                pending.append(text)
            else:
                found[base.key] = (base.key, base.current_version, text)
    return sorted(found.values())


def _references(text: str) -> list[str]:
    return [
        name
        for sigma in _parsed(text)
        if isinstance(sigma, SigmaCorrelationRule)
        for name in referenced_names(sigma)
    ]


def _single_event_rules(text: str) -> list[SigmaRule]:
    return [sigma for sigma in _parsed(text) if isinstance(sigma, SigmaRule)]


def _parsed(text: str) -> Sequence[object]:
    try:
        return list(SigmaCollection.from_yaml(text, resolve_references=False).rules)
    except (SigmaError, ValueError) as error:  # was valid when imported; say so if not now
        raise DetectionRuleError(
            N_("The stored rule text cannot be read: %(reason)s"), reason=str(error)[:300]
        ) from None


def _evaluate(
    engine: DetectionEngine,
    rule: DetectionRule,
    *,
    source: TrialSource,
    candidates: Iterable[tuple[TrialEvent, dict[str, Any], datetime | None]],
    base: tuple[str, ...],
    bad: Sequence[BadEvent],
) -> TrialResult:
    tested = matched = 0
    matches: list[TrialMatch] = []
    failed = list(bad)
    for shown, document, fallback in candidates:
        try:
            detections = engine.process(document, ref=shown.number, fallback_time=fallback)
        except Exception:  # as the live stream does: one pathological event stops nothing
            log.exception("trial event not matched", extra={"wachter.rule": rule.key})
            failed.append(BadEvent(shown.position, shown.number, _MATCHER_FAILED))
            continue
        tested += 1
        if detections:
            matched += 1
            room = MAX_MATCHES_SHOWN - len(matches)
            matches.extend(_match(shown, found) for found in detections[:room])
    return TrialResult(
        rule_key=rule.key,
        version=rule.current_version,
        source=source,
        tested=tested,
        matched=matched,
        matches=tuple(matches),
        bad=tuple(failed),
        base_rules=base,
    )


def _match(shown: TrialEvent, detection: Detection) -> TrialMatch:
    selections = tuple(
        MatchedSelection(item.selection, tuple(MatchedField(*astuple(hit)) for hit in item.fields))
        for item in detection.explanation
    )
    return TrialMatch(shown, detection.rule_key, detection.title, Explanation(selections))
