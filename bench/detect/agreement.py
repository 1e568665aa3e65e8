"""Agreement of Wachter's matcher with the peer (pySigma's SQLite backend, Zircolite's way).

Both evaluate the same rules over the same events; for every rule the *set* of matched event
indexes (0-based line numbers) is compared, not just the counts. The peer is bench/detect/peer.py
(in-memory SQLite); Wachter is ``detection_rules.matcher`` in-process (``Matcher.match`` on each
event). Both map log sources with ``sysmon`` + ``windows-logsources``.

Each differing rule gets a cause, guessed from the differing events where it can be:

- the peer cannot run the rule (keyword rules: the backend has no full-text search), or its
  query failed; the matcher refuses the rule;
- a field the rule names holds a list or an object (the peer stores its ``str()``);
- the event spells a field name in another case (SQLite column names ignore case: the peer
  reads ``ProcessID`` for ``ProcessId``, and keeps the first of the two in one event);
- a JSON boolean (the peer stores it as 1/0, as Zircolite does; rules say ``'true'``);
- a value has non-ASCII letters (SQLite's NOCASE and LIKE fold ASCII only);
- a number in a text column or text in an INTEGER column (SQLite's type affinity);
- else "unclassified": read the sample event.

    .venv/bin/python -m bench.detect.agreement [--events FILE] [--limit N] [--rules-limit N]
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.detect.events import AGREEMENT_EVENTS, read_events, read_lines
from bench.detect.peer import PeerRule, Table, connect, convert_rules, run_rules
from bench.detect.rules import (
    WINDOWS_RULES,
    LoadedRules,
    load_rules,
    windows_pipeline,
    windows_rule_paths,
)
from detection_rules.errors import UnsupportedRule
from detection_rules.matcher import Matcher, compile_rule

UNCLASSIFIED = "unclassified: read the sample event"


@dataclass(frozen=True)
class RuleDifference:
    """One rule on which the two sides disagree (``None`` count: that side did not run it)."""

    key: str
    title: str
    path: str
    peer_count: int | None
    wachter_count: int | None
    only_peer: tuple[int, ...]
    only_wachter: tuple[int, ...]
    cause: str
    sample_index: int | None


@dataclass
class SideResult:
    matches: dict[str, set[int]] = field(default_factory=dict)  # rule key -> event indexes
    not_run: dict[str, str] = field(default_factory=dict)  # rule key -> why


def peer_side(
    events_path: Path, loaded: LoadedRules, limit: int | None
) -> tuple[SideResult, Table, dict[str, PeerRule]]:
    ruleset = convert_rules(loaded)
    table = Table(connect())
    table.load(read_lines(events_path, limit))
    run = run_rules(table.connection, ruleset.rules)
    side = SideResult({key: set(ids) for key, ids in run.matches.items()})
    side.not_run.update(
        {key: f"peer cannot run it: {why}" for key, (_, why) in ruleset.unconverted.items()}
    )
    side.not_run.update({key: f"peer query failed: {error}" for key, error in run.failed.items()})
    for key in run.failed:
        side.matches.pop(key, None)
    return side, table, {rule.key: rule for rule in ruleset.rules}


def wachter_side(events: Sequence[tuple[int, dict[str, Any]]], loaded: LoadedRules) -> SideResult:
    side, compiled, pipeline = SideResult(), [], windows_pipeline()
    for item in loaded.rules:
        try:
            compiled.append(compile_rule(item.rule, pipeline=pipeline))
        except UnsupportedRule as error:
            side.not_run[item.key] = f"matcher refuses it: {str(error)[:120]}"
    side.matches = {rule.key: set() for rule in compiled}
    matcher = Matcher(compiled)
    for index, event in events:
        for rule in matcher.match(event):
            side.matches[rule.key].add(index)
    return side


def event_cause(event: Mapping[str, Any], fields: Iterable[str], table: Table) -> str | None:
    """Why the peer may read this event differently for a rule naming ``fields``, if known."""
    spellings: dict[str, list[str]] = {}
    for key in event:
        spellings.setdefault(key.lower(), []).append(key)
    fields = list(fields)
    if any(spelling != name for name in fields for spelling in spellings.get(name.lower(), [])):
        return "field name in another case: SQLite column names ignore case"
    causes = (value_cause(name, event.get(name), table) for name in fields)
    return next((cause for cause in causes if cause), None)


def value_cause(name: str, value: Any, table: Table) -> str | None:
    if isinstance(value, list | dict):
        return "list or object value: the peer stores its text form"
    if isinstance(value, bool):
        return "JSON boolean: the peer stores 1/0 in an INTEGER column, the rule says 'true'"
    if isinstance(value, str) and not value.isascii():
        return "non-ASCII letters: SQLite's NOCASE and LIKE fold ASCII only"
    integer_column = name.lower() in table.integer_columns
    if integer_column and isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        return "text in an INTEGER column (SQLite type affinity)"
    if not integer_column and isinstance(value, int | float):
        return "number in a TEXT column (SQLite type affinity)"
    return None


def rule_cause(
    differing: Sequence[int], events: Mapping[int, dict[str, Any]], rule: PeerRule, table: Table
) -> str:
    """The most frequent cause over the rule's differing events."""
    causes = Counter(event_cause(events[index], rule.fields, table) for index in differing)
    cause, _ = causes.most_common(1)[0]
    return cause or UNCLASSIFIED


def compare(
    events_path: Path, rule_paths: Sequence[Path], limit: int | None = None
) -> list[RuleDifference]:
    """Every rule of ``rule_paths`` on which the peer and the matcher disagree over the events."""
    events = list(read_events(events_path, limit))
    peer, table, peer_rules = peer_side(events_path, load_rules(list(rule_paths)), limit)
    loaded = load_rules(list(rule_paths))
    wachter = wachter_side(events, loaded)
    by_index = dict(events)
    differences = []
    for item in loaded.rules:
        key = item.key
        peer_set, wachter_set = peer.matches.get(key), wachter.matches.get(key)
        if peer_set is not None and wachter_set is not None and peer_set == wachter_set:
            continue
        only_peer = sorted((peer_set or set()) - (wachter_set or set()))
        only_wachter = sorted((wachter_set or set()) - (peer_set or set()))
        if peer_set is None or wachter_set is None:
            cause = " / ".join(filter(None, (peer.not_run.get(key), wachter.not_run.get(key))))
        else:
            cause = rule_cause(only_peer + only_wachter, by_index, peer_rules[key], table)
        differences.append(
            RuleDifference(
                key=key,
                title=item.rule.title,
                path=relative(item.path),
                peer_count=None if peer_set is None else len(peer_set),
                wachter_count=None if wachter_set is None else len(wachter_set),
                only_peer=tuple(only_peer),
                only_wachter=tuple(only_wachter),
                cause=cause,
                sample_index=next(iter(only_peer + only_wachter), None),
            )
        )
    return differences


def relative(path: Path) -> str:
    try:
        return path.relative_to(WINDOWS_RULES).as_posix()
    except ValueError:
        return str(path)


def summarize(differences: Iterable[RuleDifference]) -> Counter[str]:
    """Rules per cause."""
    return Counter(difference.cause for difference in differences)


def count_text(count: int | None) -> str:
    return "not run" if count is None else f"{count:,}"


def print_report(differences: list[RuleDifference], rules: int, events: Path) -> None:
    print(f"\nAgreement on {events.name}: {rules:,} rules, {len(differences):,} differ\n")
    print("| rule | title | peer | wachter | only peer | only wachter | sample event | cause |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for item in sorted(differences, key=lambda difference: (difference.cause, difference.path)):
        sample = "" if item.sample_index is None else str(item.sample_index)
        print(
            f"| `{item.key}` | {item.title} | {count_text(item.peer_count)} "
            f"| {count_text(item.wachter_count)} | {len(item.only_peer):,} "
            f"| {len(item.only_wachter):,} | {sample} | {item.cause} |"
        )
    print("\n| cause | rules |\n|---|---:|")
    for cause, number in summarize(differences).most_common():
        print(f"| {cause} | {number:,} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=Path, default=AGREEMENT_EVENTS)
    parser.add_argument("--limit", type=int, help="first N events (default: all)")
    parser.add_argument("--rules-limit", type=int, help="N Windows rules (default: all)")
    parser.add_argument("--json", type=Path, help="also write the differences here")
    arguments = parser.parse_args(argv)
    paths = windows_rule_paths(arguments.rules_limit)
    differences = compare(arguments.events, paths, arguments.limit)
    print_report(differences, len(paths), arguments.events)
    if arguments.json:
        arguments.json.write_bytes(orjson.dumps(differences, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
