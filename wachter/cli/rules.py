"""Sigma rules from the command line: ``wachter rules import|check|list|show|enable|disable``
and the ``|expand`` lists they use: ``wachter lists show|set|add|remove``.

``import`` and ``check`` read files, folders and .zip archives (a progress bar on a terminal),
report every problem at once as ``path:line: message`` on stderr, end with a summary line on
stdout, and exit 1 when any rule was rejected; ``import`` stores the good rules all the same.
``check`` needs no database: it reads, validates and compiles exactly as ``import`` does.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click
from sigma.processing.pipeline import ProcessingPipeline
from sqlalchemy.orm import Session
from tqdm import tqdm

from access_control import Actor
from core import Settings, SystemClock
from detection_rules.loading import (
    ParsedSource,
    RuleProblem,
    count_rule_files,
    parse_rule_source,
    read_rule_sources,
    resolve_references,
)
from detection_rules.models import DetectionList, DetectionRule, ListKind, RuleKind
from detection_rules.pipelines import DEFAULT_PIPELINES, PIPELINE_NAMES, build_pipeline
from detection_rules.service import (
    ImportOutcome,
    add_to_list,
    disable_rule,
    enable_rule,
    find_lists,
    get_list,
    get_rule,
    import_rules,
    list_rules,
    list_values,
    remove_from_list,
    rule_versions,
    set_list,
)
from detection_rules.validation import CheckCounts, count, validate_sources
from wachter.cli.base import cli, prepare_migrated_command
from wachter.logs import configure_logging

PATHS = click.Path(exists=True, path_type=Path)
PIPELINE_HELP = (
    f"Processing pipeline for the compile check (repeatable; default: "
    f"{' '.join(DEFAULT_PIPELINES)}). Known: {', '.join(PIPELINE_NAMES)}."
)
_LIST_COLUMNS = ("KEY", "VERSION", "ON", "LEVEL", "KIND", "TITLE")


@cli.group()
def rules() -> None:
    """Sigma detection rules: import, check, list, show, enable, disable."""


def pipeline_option(function: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--pipeline", "pipelines", metavar="NAME", multiple=True, help=PIPELINE_HELP
    )(function)


@rules.command("import")
@click.argument("paths", metavar="PATH...", nargs=-1, required=True, type=PATHS)
@click.option("--disabled", is_flag=True, help="New rules start switched off.")
@pipeline_option
def import_command(paths: tuple[Path, ...], disabled: bool, pipelines: tuple[str, ...]) -> None:
    """Import rules from YAML files, folders and .zip archives; edited rules get a new version."""
    pipeline = build_pipeline(pipelines or DEFAULT_PIPELINES)
    _settings, database = prepare_migrated_command()
    parsed = _read(paths)
    bar = _bar("Checking rules", _rule_total(parsed), " rules")
    with bar as progress, database.unit_of_work() as session:
        report = import_rules(
            session,
            parsed,
            actor=Actor.command_line(),
            now=SystemClock().now(),
            enabled=not disabled,
            pipeline=pipeline,
            progress=progress.update,
        )
    database.dispose()
    _print_problems(report.problems)
    created = len(report.with_outcome(ImportOutcome.CREATED))
    versions = len(report.with_outcome(ImportOutcome.NEW_VERSION))
    unchanged = len(report.with_outcome(ImportOutcome.UNCHANGED))
    click.echo(
        f"Imported from {_plural(report.counts.sources, 'file')}: {created} new, "
        f"{_plural(versions, 'new version')}, {unchanged} unchanged; "
        f"{_rejected(report.counts)}."
    )
    if report.counts.rejected:
        raise SystemExit(1)


@rules.command("check")
@click.argument("paths", metavar="PATH...", nargs=-1, required=True, type=PATHS)
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@pipeline_option
def check_command(paths: tuple[Path, ...], strict: bool, pipelines: tuple[str, ...]) -> None:
    """Read, validate and compile rules as `import` would, storing nothing (no database)."""
    configure_logging(Settings.from_env().log_level)
    pipeline = build_pipeline(pipelines or DEFAULT_PIPELINES)
    checked = _check(_read(paths), pipeline, strict=strict)
    _print_problems([problem for source in checked for problem in source.problems])
    counts = count(checked)
    click.echo(
        f"Checked {_plural(counts.sources, 'file')}: {_plural(counts.accepted, 'rule')} good; "
        f"{_rejected(counts)}."
    )
    if counts.errors:
        raise SystemExit(1)


def _read(paths: Sequence[Path]) -> list[ParsedSource]:
    with _bar("Reading rules", count_rule_files(paths), " files") as bar:
        parsed = []
        for source in read_rule_sources(paths):
            parsed.append(parse_rule_source(source))
            bar.update()
    return parsed


def _check(
    parsed: list[ParsedSource], pipeline: ProcessingPipeline, *, strict: bool
) -> list[ParsedSource]:
    linked = resolve_references(parsed)
    with _bar("Checking rules", _rule_total(linked), " rules") as bar:
        return validate_sources(linked, pipeline=pipeline, strict=strict, progress=bar.update)


@contextmanager
def _bar(description: str, total: int | None, unit: str) -> Iterator[tqdm]:
    with tqdm(total=total, desc=description, unit=unit, disable=None, file=sys.stderr) as bar:
        yield bar


def _rule_total(sources: Sequence[ParsedSource]) -> int:
    return sum(len(source.loaded) for source in sources)


def _print_problems(problems: Sequence[RuleProblem]) -> None:
    for problem in problems:
        click.echo(str(problem), err=True)


def _rejected(counts: CheckCounts) -> str:
    return (
        f"{counts.rejected} rejected ({_plural(counts.errors, 'error')}, "
        f"{_plural(counts.warnings, 'warning')})"
    )


def _plural(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


@rules.command("list")
@click.option("--enabled/--disabled", "enabled", default=None, help="Only rules switched on/off.")
@click.option("--kind", type=click.Choice([kind.value for kind in RuleKind]), default=None)
@click.option("--search", metavar="TEXT", help="Only rules whose key, name or title has TEXT.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
def list_command(enabled: bool | None, kind: str | None, search: str | None, as_json: bool) -> None:
    """Show the rules in the registry."""
    _settings, database = prepare_migrated_command()
    with database.snapshot() as session:
        found = list_rules(
            session, enabled=enabled, kind=RuleKind(kind) if kind else None, search=search
        )
        rows = [_rule_summary(rule) for rule in found]
    database.dispose()
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("No rules.")
        return
    cells = [
        (
            str(row["key"]),
            str(row["version"]),
            "yes" if row["enabled"] else "no",
            str(row["level"] or "-"),
            str(row["kind"]),
            str(row["title"]),
        )
        for row in rows
    ]
    widths = [
        max(len(cell) for cell in column) for column in zip(_LIST_COLUMNS, *cells, strict=True)
    ]
    for line in (_LIST_COLUMNS, *cells):
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )


def _rule_summary(rule: DetectionRule) -> dict[str, object]:
    return {
        "key": rule.key,
        "name": rule.name,
        "title": rule.title,
        "kind": rule.kind,
        "level": rule.level,
        "status": rule.status,
        "enabled": rule.enabled,
        "version": rule.current_version,
        "origin": rule.origin,
        "updated_at": rule.updated_at.isoformat(),
    }


@rules.command("show")
@click.argument("key")
def show_command(key: str) -> None:
    """Show rule KEY (its id, name or title): metadata, versions and its current YAML."""
    _settings, database = prepare_migrated_command()
    with database.snapshot() as session:
        rule = get_rule(session, key)
        summary = _rule_summary(rule)
        versions = rule_versions(session, rule.key)
        lines = [
            f"{name}: {value if value is not None else '-'}" for name, value in summary.items()
        ]
        lines.append("versions:")
        lines += [
            f"  {version.version}  {version.created_at:%Y-%m-%d %H:%M} UTC  {version.created_by}"
            f"  {version.source_path or '-'}  sha256 {version.sha256[:12]}"
            for version in versions
        ]
        current = versions[-1].text
    database.dispose()
    click.echo("\n".join(lines))
    click.echo("---")
    click.echo(current, nl=False)


@rules.command("enable")
@click.argument("keys", metavar="KEY...", nargs=-1, required=True)
def enable_command(keys: tuple[str, ...]) -> None:
    """Switch rules on (all or none: an unknown key changes nothing)."""
    _switch(keys, enable=True)


@rules.command("disable")
@click.argument("keys", metavar="KEY...", nargs=-1, required=True)
def disable_command(keys: tuple[str, ...]) -> None:
    """Switch rules off; their versions and detections stay."""
    _switch(keys, enable=False)


def _switch(keys: Sequence[str], *, enable: bool) -> None:
    _settings, database = prepare_migrated_command()
    actor, now = Actor.command_line(), SystemClock().now()
    messages = []
    with database.unit_of_work() as session:
        for key in keys:
            rule = get_rule(session, key)
            state = "enabled" if enable else "disabled"
            if rule.enabled == enable:
                messages.append(f"{rule.key} ({rule.title}) was already {state}.")
                continue
            change = enable_rule if enable else disable_rule
            change(session, rule.key, actor=actor, now=now)
            messages.append(f"{rule.key} ({rule.title}) {state}.")
    database.dispose()
    click.echo("\n".join(messages))


@cli.group("lists")
def lists_group() -> None:
    """The lists rules fill |expand placeholders from (%office_networks%, %admin_accounts%)."""


@lists_group.command("show")
@click.argument("name", required=False)
def lists_show(name: str | None) -> None:
    """Without NAME: every list and its size. With NAME: its values, one per line."""
    _settings, database = prepare_migrated_command()
    with database.snapshot() as session:
        if name is not None:
            lines = list(list_values(get_list(session, name)))
        else:
            lines = [
                f"{row.name}  {row.kind}  {_plural(len(list_values(row)), 'value')}  "
                f"updated {row.updated_at:%Y-%m-%d %H:%M} UTC by {row.updated_by}"
                for row in find_lists(session)
            ] or ["No lists."]
    database.dispose()
    if lines:
        click.echo("\n".join(lines))


@lists_group.command("set")
@click.argument("name")
@click.argument("values", metavar="VALUE...", nargs=-1)
@click.option(
    "--kind",
    type=click.Choice([kind.value for kind in ListKind]),
    required=True,
    help="networks: IP addresses and CIDR ranges; strings: anything else.",
)
def lists_set(name: str, values: tuple[str, ...], kind: str) -> None:
    """Create list NAME or replace its values."""
    _change_list(
        lambda session, actor, now: set_list(
            session, name=name, kind=kind, values=values, actor=actor, now=now
        )
    )


@lists_group.command("add")
@click.argument("name")
@click.argument("values", metavar="VALUE...", nargs=-1, required=True)
def lists_add(name: str, values: tuple[str, ...]) -> None:
    """Add values to list NAME."""
    _change_list(
        lambda session, actor, now: add_to_list(
            session, name=name, values=values, actor=actor, now=now
        )
    )


@lists_group.command("remove")
@click.argument("name")
@click.argument("values", metavar="VALUE...", nargs=-1, required=True)
def lists_remove(name: str, values: tuple[str, ...]) -> None:
    """Remove values from list NAME."""
    _change_list(
        lambda session, actor, now: remove_from_list(
            session, name=name, values=values, actor=actor, now=now
        )
    )


ListChange = Callable[[Session, Actor, datetime], DetectionList]


def _change_list(change: ListChange) -> None:
    _settings, database = prepare_migrated_command()
    with database.unit_of_work() as session:
        row = change(session, Actor.command_line(), SystemClock().now())
        message = f"List {row.name} ({row.kind}): {_plural(len(list_values(row)), 'value')}."
    database.dispose()
    click.echo(message)
