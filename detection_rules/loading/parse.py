"""Sigma rules from a rule file: pySigma reads each YAML document; problems say where.

A file may hold several documents: base rules and the correlations over them, and the
collection actions ``global`` (a template merged into the following rules), ``reset`` and
``repeat`` (the previous rule with some keys replaced). pySigma's
``SigmaCollection.from_dicts`` applies these to a whole file at once and loses which
document each rule came from; this module applies them per document, with the same
merging (``sigma.collection.deep_dict_update``), so each rule keeps its text and lines.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import deep_dict_update
from sigma.conditions import SigmaCondition
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.rule import SigmaRule

from detection_rules.loading.documents import YamlDocument, read_documents
from detection_rules.loading.locate import condition_line, key_line, locate_error, message_of
from detection_rules.loading.problems import RuleProblem
from detection_rules.loading.sources import RuleSource

AnyRule = SigmaRule | SigmaCorrelationRule


def rule_key(rule: AnyRule) -> str:
    """How the registry and the matcher know a rule: its id, else its name, else its title."""
    if rule.id is not None:
        return str(rule.id)
    return rule.name or rule.title


def rule_label(data: Any) -> str | None:
    """``"title" (id)`` from a rule document, for messages; ``None`` when it has neither."""
    if not isinstance(data, dict):
        return None
    title, identifier = data.get("title"), data.get("id")
    parts = [
        f'"{title}"' if isinstance(title, str) else None,
        f"({identifier})" if identifier else None,
    ]
    return " ".join(part for part in parts if part) or None


@dataclass(frozen=True)
class LoadedRule:
    """A rule read without error, with where it came from and the text the registry stores.

    ``text`` is its YAML document as written; a rule built from several documents
    (``action: global`` or ``repeat``) is stored as the YAML of the merged document, which
    reads back as exactly this rule on its own.
    """

    rule: AnyRule
    path: str
    document: YamlDocument
    text: str

    @property
    def key(self) -> str:
        return rule_key(self.rule)

    @property
    def line(self) -> int:
        return self.document.line

    @property
    def is_correlation(self) -> bool:
        return isinstance(self.rule, SigmaCorrelationRule)


@dataclass
class ParsedSource:
    """One source's rules and problems; ``rules`` is the plain pySigma view of ``loaded``."""

    path: str
    loaded: list[LoadedRule] = field(default_factory=list)
    problems: list[RuleProblem] = field(default_factory=list)

    @property
    def rules(self) -> list[AnyRule]:
        return [entry.rule for entry in self.loaded]


@dataclass
class _Actions:
    """The collection-action state of one file, as ``SigmaCollection.from_dicts`` keeps it."""

    template: dict[str, Any] = field(default_factory=dict)
    previous: dict[str, Any] = field(default_factory=dict)


def parse_rule_source(source: RuleSource) -> ParsedSource:
    """The rules of one source and every problem found reading them (nothing is raised)."""
    documents, problems = read_documents(source)
    parsed = ParsedSource(source.path, problems=list(problems))
    actions = _Actions()
    for document in documents:
        data = document.data
        if not isinstance(data, dict):
            kind = type(data).__name__
            message = f"a Sigma rule is a YAML mapping (key: value), not a {kind}"
            parsed.problems.append(RuleProblem(source.path, document.line, message))
            continue
        effective = _apply_action(source.path, document, actions, parsed.problems)
        if effective is not None:
            _read_rule(source.path, document, effective, parsed)
    parsed.problems.sort(key=lambda problem: problem.line or 0)
    return parsed


def _apply_action(
    path: str, document: YamlDocument, actions: _Actions, problems: list[RuleProblem]
) -> tuple[dict[str, Any], bool] | None:
    """The rule dict to read (and whether it was merged), or ``None`` when there is none."""
    data: dict[str, Any] = copy.deepcopy(document.data)
    action = data.pop("action", None)
    if action is None:
        if "correlation" in data or "filter" in data:
            return data, False
        merged = deep_dict_update(data, copy.deepcopy(actions.template))
        actions.previous = merged
        return copy.deepcopy(merged), bool(actions.template)
    if action == "global":
        actions.template = data
        actions.previous = copy.deepcopy(data)
    elif action == "reset":
        actions.template = {}
    elif action == "repeat":
        actions.previous = deep_dict_update(actions.previous, data)
        return copy.deepcopy(actions.previous), True
    else:
        message = f"Unknown Sigma collection action '{action}'"
        problems.append(RuleProblem(path, _action_line(document), message))
    return None


def _action_line(document: YamlDocument) -> int:
    return key_line(document.node, ("action",))


def _read_rule(
    path: str, document: YamlDocument, effective: tuple[dict[str, Any], bool], parsed: ParsedSource
) -> None:
    data, merged = effective
    label = rule_label(data)
    if "filter" in data and "correlation" not in data:
        message = "Sigma filters (meta filters) are not supported; apply them to the rules"
        parsed.problems.append(
            RuleProblem(path, document.line, message, rule=label, code="unsupported")
        )
        return
    location = SigmaRuleLocation(Path(path), document.line)
    rule_class: type[AnyRule] = SigmaCorrelationRule if "correlation" in data else SigmaRule
    rule, errors = _build(rule_class, data, location)
    problems = [
        RuleProblem(path, _locate(error, document), message_of(error), rule=label)
        for error in errors
    ]
    if rule is not None and not problems:
        problems = _condition_problems(path, document, rule, label)
    if problems or rule is None:
        parsed.problems.extend(problems)
        return
    text = _merged_text(data) if merged else document.text
    parsed.loaded.append(LoadedRule(rule=rule, path=path, document=document, text=text))


def _build(
    rule_class: type[AnyRule], data: dict[str, Any], location: SigmaRuleLocation
) -> tuple[AnyRule | None, list[SigmaError]]:
    """The rule and pySigma's errors about it (all of them when pySigma can collect them)."""
    try:
        rule = rule_class.from_dict(data, collect_errors=True, source=location)
        return rule, list(rule.errors)
    except SigmaError as error:
        return None, [error]
    except Exception as error:  # pySigma itself fails on some malformed input
        unexpected = error
    # Collecting, pySigma may build the rule from the very values it found wrong and fail
    # (an UnboundLocalError for a bad correlation condition); not collecting, it raises
    # its first error instead, which is the one worth reporting.
    try:
        rule_class.from_dict(data, collect_errors=False, source=location)
    except SigmaError as error:
        return None, [error]
    except Exception:  # noqa: S110 - the first failure is reported below
        pass
    reason = f"pySigma cannot read this rule ({type(unexpected).__name__}: {unexpected})"
    return None, [_PySigmaFailure(reason, key=_culprit(rule_class, data, location))]


class _PySigmaFailure(SigmaError):
    """pySigma raised something other than its own errors; ``key`` is the key that did it."""

    def __init__(self, message: str, *, key: str | None) -> None:
        super().__init__(message)
        self.key = key


def _culprit(
    rule_class: type[AnyRule], data: dict[str, Any], location: SigmaRuleLocation
) -> str | None:
    """The top-level key without which pySigma no longer fails unexpectedly."""
    for key in data:
        rest = {name: value for name, value in data.items() if name != key}
        try:
            rule_class.from_dict(rest, collect_errors=True, source=location)
        except SigmaError:
            return key
        except Exception:  # noqa: S112 - still failing: not this key
            continue
        return key
    return None


def _locate(error: SigmaError, document: YamlDocument) -> int:
    if isinstance(error, _PySigmaFailure):
        return key_line(document.node, (error.key,)) if error.key else document.line
    return locate_error(error, document)


def _condition_problems(
    path: str, document: YamlDocument, rule: AnyRule, label: str | None
) -> list[RuleProblem]:
    """pySigma parses conditions only when they are used; parse them now, to report here.

    An error is the condition's unless parsing one selection on its own raises it too
    (``sel: []`` fails only there): then it is that selection's.
    """
    if not isinstance(rule, SigmaRule):
        return []
    problems = []
    for index, condition in enumerate(rule.detection.parsed_condition):
        try:
            condition.parse()
        except SigmaError as error:
            message = message_of(error)
            line = _selection_line(document, rule, message) or condition_line(document, index)
            problems.append(RuleProblem(path, line, message, rule=label))
    return problems


def _selection_line(document: YamlDocument, rule: SigmaRule, message: str) -> int | None:
    for name in rule.detection.detections:
        try:
            SigmaCondition(name, rule.detection).parse()
        except SigmaError as error:
            if message_of(error) == message:
                return key_line(document.node, ("detection", name))
    return None


def _merged_text(data: dict[str, Any]) -> str:
    header = "# merged from several documents (Sigma collection action global/repeat)\n"
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
