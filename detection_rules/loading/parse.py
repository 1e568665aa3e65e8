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
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaConditionError, SigmaError, SigmaRuleLocation
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
    try:
        rule: AnyRule | None = rule_class.from_dict(data, collect_errors=True, source=location)
        errors = list(rule.errors) if rule is not None else []
    except SigmaError as error:
        rule, errors = None, [error]
    except Exception as error:
        rule, errors = (
            None,
            [SigmaError(f"pySigma cannot read this rule ({type(error).__name__}: {error})")],
        )
    problems = [
        RuleProblem(path, locate_error(error, document), message_of(error), rule=label)
        for error in errors
    ]
    if rule is not None and not problems:
        problems = _condition_problems(path, document, rule, label)
    if problems or rule is None:
        parsed.problems.extend(problems)
        return
    text = _merged_text(data) if merged else document.text
    parsed.loaded.append(LoadedRule(rule=rule, path=path, document=document, text=text))


def _condition_problems(
    path: str, document: YamlDocument, rule: AnyRule, label: str | None
) -> list[RuleProblem]:
    """pySigma parses conditions only when they are used; parse them now, to report here."""
    if not isinstance(rule, SigmaRule):
        return []
    problems = []
    for index, condition in enumerate(rule.detection.parsed_condition):
        try:
            condition.parse()
        except SigmaConditionError as error:
            line = condition_line(document, index)
            problems.append(RuleProblem(path, line, message_of(error), rule=label))
    return problems


def _merged_text(data: dict[str, Any]) -> str:
    header = "# merged from several documents (Sigma collection action global/repeat)\n"
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
