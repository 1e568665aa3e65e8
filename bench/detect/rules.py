"""Which SigmaHQ rules the detection benchmark uses, chosen the same way on both sides.

"Windows rules" are ``rules/windows/**/*.yml`` of the SigmaHQ snapshot beside the repository.
A subset of N rules is the first N of one fixed shuffle (seed 5) of the paths sorted, so it is
the same on every run, spreads over every log source (the first N by path would be all
``builtin/`` rules), and 100 ⊂ 1,000 ⊂ all. ``--rules-order path`` takes the first N by path.

Both sides map log sources with the same pySigma pipelines, the ones Zircolite's Windows
ruleset is built with: ``sysmon`` (generic categories → Sysmon EventIDs) and
``windows-logsources`` (services → ``Channel``).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sigma.collection import SigmaCollection
from sigma.pipelines.sysmon.sysmon import sysmon_pipeline
from sigma.pipelines.windows.windows import windows_logsource_pipeline
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule

from bench.detect.events import SHARED_DATA

WINDOWS_RULES = SHARED_DATA / "sigma-rules" / "rules" / "windows"
SUBSET_SEED = 5
SKIPPED_STATUSES = frozenset({"deprecated", "unsupported"})


def windows_rule_paths(
    limit: int | None = None, *, order: str = "shuffled", root: Path = WINDOWS_RULES
) -> list[Path]:
    """The rule files of a run: all, or the first ``limit`` in ``order``, returned sorted."""
    paths = sorted(root.rglob("*.yml"))
    if not paths:
        raise SystemExit(f"no Sigma rules under {root} (set WACHTER_TEST_SHARED_DATA)")
    if order == "shuffled":
        random.Random(SUBSET_SEED).shuffle(paths)  # noqa: S311 - a fixed sample, no secret
    elif order != "path":
        raise ValueError(f"unknown rule order {order!r}")
    return sorted(paths[:limit] if limit is not None else paths)


def windows_pipeline() -> ProcessingPipeline:
    """``sysmon`` + ``windows-logsources`` (``apply`` resets its state: one serves many rules)."""
    pipeline: ProcessingPipeline = sysmon_pipeline() + windows_logsource_pipeline()
    return pipeline


@dataclass(frozen=True)
class LoadedRule:
    path: Path
    rule: SigmaRule

    @property
    def key(self) -> str:
        """What both sides count matches under: the rule id, else its title (as the matcher)."""
        return str(self.rule.id) if self.rule.id else (self.rule.name or self.rule.title)


@dataclass
class LoadedRules:
    rules: list[LoadedRule] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> rule files


def load_rules(paths: list[Path]) -> LoadedRules:
    """Parse every file with pySigma; deprecated/unsupported or unreadable rules are counted.

    Each call parses anew: converting or compiling a rule applies the pipeline to it in place,
    so the two sides never share rule objects.
    """
    loaded = LoadedRules()
    for path in paths:
        try:
            collection = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"))
        except Exception as error:  # any pySigma error: not loadable
            loaded.skipped[f"parse error: {type(error).__name__}"] += 1
            continue
        if collection.errors:
            loaded.skipped[f"parse error: {type(collection.errors[0]).__name__}"] += 1
            continue
        for rule in collection.rules:
            if not isinstance(rule, SigmaRule):
                loaded.skipped["not a detection rule (correlation/filter)"] += 1
            elif rule.status is not None and rule.status.name.lower() in SKIPPED_STATUSES:
                loaded.skipped[f"status {rule.status.name.lower()}"] += 1
            else:
                loaded.rules.append(LoadedRule(path, rule))
    return loaded
