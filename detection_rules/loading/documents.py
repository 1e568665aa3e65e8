"""A rule file's YAML documents: each with its text, its first line, its node tree and data.

PyYAML (libyaml when built in) composes the node tree once and constructs the data from
it, so every later finding can be pointed at a line. Two things plain ``yaml.safe_load``
lets through are reported here: a key given twice in one mapping (the second would
silently replace the first: a selection could lose half its conditions) and documents
that expand to a huge tree through aliases.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import yaml

from detection_rules.loading.problems import RuleProblem
from detection_rules.loading.sources import RuleSource

_Loader: Final[type[yaml.SafeLoader]] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Lines that start or end a document: at column 0 they always are one, even inside a
# block scalar, so splitting the text at them agrees with the YAML parser.
_MARKER: Final = re.compile(r"(?:---|\.\.\.)(?=[ \t]|$)")
# Nodes visited when walking a document, aliases followed: a rule has a few hundred;
# a "billion laughs" document has an astronomical number and is refused here.
MAX_NODES: Final = 100_000


@dataclass(frozen=True)
class YamlDocument:
    """One document of a rule file; ``line`` is the 1-based line its content starts on."""

    index: int
    line: int
    text: str
    node: yaml.Node
    data: Any


def read_documents(source: RuleSource) -> tuple[list[YamlDocument], list[RuleProblem]]:
    """The documents of ``source`` and what stops them being read (encoding, YAML, keys).

    Documents before a YAML syntax error are kept: they were complete and valid.
    """
    try:
        text = source.data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = source.data[: error.start].count(b"\n") + 1
        message = f"not UTF-8 text (byte 0x{source.data[error.start]:02x})"
        return [], [RuleProblem(source.path, line, message, code="encoding")]
    lines = text.splitlines()
    markers = [number for number, line in enumerate(lines) if _MARKER.match(line)]
    documents: list[YamlDocument] = []
    problems: list[RuleProblem] = []
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            assert node is not None  # check_node said there is one
            problem = _check_node(source.path, node)
            if problem is not None:
                problems.append(problem)
                continue
            try:
                data = loader.construct_document(node)
            except (ValueError, OverflowError, TypeError) as error:
                problems.append(_value_problem(source.path, node, error))
                # The constructor keeps per-document state that a failure leaves behind.
                loader.constructed_objects, loader.recursive_objects = {}, {}
                loader.state_generators = []
                continue
            if data is None:  # an empty document, e.g. after a trailing '---'
                continue
            text_of_document = _document_text(lines, markers, node.start_mark.line)
            documents.append(
                YamlDocument(len(documents), node.start_mark.line + 1, text_of_document, node, data)
            )
    except yaml.MarkedYAMLError as error:
        problems.append(_yaml_problem(source.path, error))
    except (yaml.YAMLError, RecursionError) as error:
        problems.append(RuleProblem(source.path, None, _first_line(error), code="yaml"))
    finally:
        loader.dispose()
    return documents, problems


def _value_problem(path: str, root: yaml.Node, error: Exception) -> RuleProblem:
    """A scalar PyYAML cannot construct (``date: 2024-13-45``), found node by node."""
    constructor = yaml.constructor.SafeConstructor()
    line = root.start_mark.line + 1
    for node in _walk(root):
        if not isinstance(node, yaml.ScalarNode):
            continue
        try:
            constructor.construct_object(node)
        except (ValueError, OverflowError, TypeError):
            line = node.start_mark.line + 1
            break
    return RuleProblem(path, line, f"YAML: cannot read a value ({error})", code="yaml")


def _yaml_problem(path: str, error: yaml.MarkedYAMLError) -> RuleProblem:
    mark = error.problem_mark or error.context_mark
    parts = [part for part in (error.context, error.problem) if part]
    message = "YAML: " + (", ".join(parts) if parts else _first_line(error))
    return RuleProblem(path, mark.line + 1 if mark else None, message, code="yaml")


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _document_text(lines: list[str], markers: list[int], first_line: int) -> str:
    """The lines between the markers around ``first_line``, as written (comments kept)."""
    start = 0
    end = len(lines)
    for marker in markers:
        if marker < first_line:
            start = marker + 1
        elif marker == first_line:  # content on the marker line: '--- title: …'
            start = marker
        else:
            end = marker
            break
    body = lines[start:end]
    if body and start in markers:
        body[0] = _MARKER.sub("", body[0], count=1).lstrip()
    return "\n".join(body).strip("\n") + "\n"


def _check_node(path: str, root: yaml.Node) -> RuleProblem | None:
    for visited, node in enumerate(_walk(root), start=1):
        if visited > MAX_NODES:
            return RuleProblem(
                path,
                root.start_mark.line + 1,
                f"document expands to more than {MAX_NODES} YAML nodes (aliases?); refused",
                code="yaml",
            )
        if isinstance(node, yaml.MappingNode):
            problem = _duplicate_key(path, node)
            if problem is not None:
                return problem
    return None


def _walk(root: yaml.Node) -> Iterator[yaml.Node]:
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, yaml.MappingNode):
            for key, value in reversed(node.value):
                stack.extend((value, key))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))


def _duplicate_key(path: str, node: yaml.MappingNode) -> RuleProblem | None:
    first_lines: dict[tuple[str, str], int] = {}
    for key, _value in node.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        identity = (key.tag, key.value)
        line = key.start_mark.line + 1
        if identity in first_lines:
            return RuleProblem(
                path,
                line,
                f"duplicate key '{key.value}' (first on line {first_lines[identity]}); "
                "YAML would keep only the last one",
                code="duplicate_key",
            )
        first_lines[identity] = line
    return None
