"""Which line of a rule file a pySigma error or validation issue is about.

pySigma's messages rarely carry a line. The composed YAML does: an error is mapped to the
key it is about (its class names the attribute: ``SigmaLevelError`` is ``level``), and
errors inside ``detection``, ``tags`` or ``related`` are narrowed down by asking pySigma
again, one selection, one key and one value at a time, which part raises the same message.
The answer is the 1-based line of the most precise node found, the document's first line
at worst.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, Final

import sigma.exceptions as sigma_errors
import yaml
from sigma.rule import SigmaDetection, SigmaDetectionItem
from sigma.rule.attributes import SigmaRelatedItem, SigmaRuleTag
from sigma.validators.base import SigmaValidationIssue

from detection_rules.loading.documents import YamlDocument

Path = tuple[str, ...]

# The attribute each pySigma error class is about (subclasses before their bases).
_CORRELATION_KEY_OF_ERROR: Final[tuple[tuple[type[sigma_errors.SigmaError], Path], ...]] = (
    (sigma_errors.SigmaTimespanError, ("correlation", "timespan")),
    (sigma_errors.SigmaCorrelationTypeError, ("correlation", "type")),
    (sigma_errors.SigmaCorrelationConditionError, ("correlation", "condition")),
)
_KEY_OF_ERROR: Final[tuple[tuple[type[sigma_errors.SigmaError], Path], ...]] = (
    (sigma_errors.SigmaIdentifierError, ("id",)),
    (sigma_errors.SigmaNameError, ("name",)),
    (sigma_errors.SigmaTaxonomyError, ("taxonomy",)),
    (sigma_errors.SigmaLevelError, ("level",)),
    (sigma_errors.SigmaStatusError, ("status",)),
    (sigma_errors.SigmaDateError, ("date",)),
    (sigma_errors.SigmaModifiedError, ("modified",)),
    (sigma_errors.SigmaFieldsError, ("fields",)),
    (sigma_errors.SigmaFalsePositivesError, ("falsepositives",)),
    (sigma_errors.SigmaAuthorError, ("author",)),
    (sigma_errors.SigmaDescriptionError, ("description",)),
    (sigma_errors.SigmaReferencesError, ("references",)),
    (sigma_errors.SigmaTitleError, ("title",)),
    (sigma_errors.SigmaScopeError, ("scope",)),
    (sigma_errors.SigmaLicenseError, ("license",)),
    (sigma_errors.SigmaConditionError, ("detection", "condition")),
)
_LOGSOURCE_KEYS: Final = ("category", "product", "service", "definition")
# Words of pySigma's correlation messages and the key they are about, most specific first.
_CORRELATION_WORDS: Final = (
    ("group-by", "group-by"),
    ("timespan", "timespan"),
    ("alias", "aliases"),
    ("generate", "generate"),
    ("field reference", "condition"),
    ("condition", "condition"),
    ("rule reference", "rules"),
    ("type", "type"),
)


def message_of(error: BaseException) -> str:
    """pySigma's own message, without the ``in <file>`` its ``str()`` appends."""
    return str(error.args[0]) if error.args else type(error).__name__


def locate_error(error: sigma_errors.SigmaError, document: YamlDocument) -> int:
    """The line ``error`` (raised while reading ``document``) is about."""
    message = message_of(error)
    line = _special_line(error, document, message)
    if line is not None:
        return line
    for class_, path in _KEY_OF_ERROR:
        if isinstance(error, class_):
            return _narrowed(document, path, message)
    for finder in (_tag_line, _related_line, _detection_line):
        line = finder(document, message)
        if line is not None:
            return line
    return document.line


def _special_line(
    error: sigma_errors.SigmaError, document: YamlDocument, message: str
) -> int | None:
    """Errors whose key is found from the message rather than from the class."""
    root = document.node
    if isinstance(error, sigma_errors.SigmaRuleNotFoundError):
        return _reference_line(document, message)
    if isinstance(error, sigma_errors.SigmaLogsourceError):
        words = [key for key in _LOGSOURCE_KEYS if f" {key} " in f"{message} "]
        return key_line(root, ("logsource", *words[:1]))
    if isinstance(error, sigma_errors.SigmaCorrelationRuleError) and "correlation" in document.data:
        for class_, path in _CORRELATION_KEY_OF_ERROR:
            if isinstance(error, class_):
                return key_line(root, path)
        lowered = message.lower()
        key = next((key for word, key in _CORRELATION_WORDS if word in lowered), None)
        return key_line(root, ("correlation", key) if key else ("correlation",))
    if isinstance(error, sigma_errors.SigmaTypeError) and message.startswith("Sigma rule name"):
        return key_line(root, ("name",))
    return None


def _narrowed(document: YamlDocument, path: Path, message: str) -> int:
    if path == ("tags",):
        return _tag_line(document, message) or key_line(document.node, path)
    if path == ("related",):
        return _related_line(document, message) or key_line(document.node, path)
    return key_line(document.node, path)


def condition_line(document: YamlDocument, index: int) -> int:
    """The line of the ``index``-th condition (``condition`` may be one string or a list)."""
    node = value_node(value_node(document.node, "detection"), "condition")
    if isinstance(node, yaml.SequenceNode) and index < len(node.value):
        return _line(node.value[index])
    return key_line(document.node, ("detection", "condition"))


def locate_issue(issue: SigmaValidationIssue, document: YamlDocument) -> int:
    """The line a validator's finding is about, from the fields the issue carries."""
    fields = vars(issue)
    for attribute, finder in _ISSUE_FINDERS:
        if attribute in fields:
            line = finder(document, fields[attribute])
            if line is not None:
                return line
    if "them" in type(issue).description:
        return key_line(document.node, ("detection", "condition"))
    return document.line


def _detection_item_line(document: YamlDocument, item: Any) -> int | None:
    return _field_line(document, item.field) or key_line(document.node, ("detection",))


def _string_line(document: YamlDocument, string: Any) -> int | None:
    return _value_line(document, string.original) or key_line(document.node, ("detection",))


def _fieldname_line(document: YamlDocument, name: Any) -> int | None:
    return _field_line(document, str(name)) or key_line(document.node, (str(name),))


_IssueFinder = Callable[[YamlDocument, Any], "int | None"]
# The fields validation issues carry, and how each leads to a line (first match wins).
_ISSUE_FINDERS: Final[tuple[tuple[str, _IssueFinder], ...]] = (
    ("detection_name", lambda doc, name: key_line(doc.node, ("detection", str(name)))),
    ("condition_name", lambda doc, _name: key_line(doc.node, ("detection", "condition"))),
    ("detection_item", _detection_item_line),
    ("string", _string_line),
    ("tag", lambda doc, tag: _item_line(doc.node, "tags", str(tag))),
    ("reference", lambda doc, reference: _item_line(doc.node, "references", str(reference))),
    ("fieldname", _fieldname_line),
    ("identifier", lambda doc, _value: key_line(doc.node, ("id",))),
    ("title", lambda doc, _value: key_line(doc.node, ("title",))),
    ("event_id", lambda doc, event_id: _value_line(doc, str(event_id))),
    ("logsource", lambda doc, _value: key_line(doc.node, ("logsource",))),
)


def key_line(root: yaml.Node, path: Sequence[str]) -> int:
    """The line of the deepest key of ``path`` present, the document's first line if none."""
    node: yaml.Node | None = root
    line = _line(root)
    for key in path:
        if not isinstance(node, yaml.MappingNode):
            break
        found = _entry(node, key)
        if found is None:
            break
        line = _line(found[0])
        node = found[1]
    return line


def value_node(node: yaml.Node | None, key: str) -> yaml.Node | None:
    found = _entry(node, key) if isinstance(node, yaml.MappingNode) else None
    return found[1] if found else None


def _entry(node: yaml.MappingNode, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    for key_node, value in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return key_node, value
    return None


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _fails_alike(attempt: Callable[[], object], message: str) -> bool:
    try:
        attempt()
    except sigma_errors.SigmaError as error:
        return message_of(error) == message
    except Exception:  # any other failure is simply not the one sought
        return False
    return False


def _reference_line(document: YamlDocument, message: str) -> int:
    rules = value_node(value_node(document.node, "correlation"), "rules")
    items = rules.value if isinstance(rules, yaml.SequenceNode) else [rules] if rules else []
    for item in items:
        if isinstance(item, yaml.ScalarNode) and f"'{item.value}'" in message:
            return _line(item)
    return key_line(document.node, ("correlation", "rules" if rules else "condition"))


def _tag_line(document: YamlDocument, message: str) -> int | None:
    tags = value_node(document.node, "tags")
    if not isinstance(tags, yaml.SequenceNode):
        return None
    for item in tags.value:
        if not isinstance(item, yaml.ScalarNode) or _fails_alike(
            partial(SigmaRuleTag.from_str, item.value), message
        ):
            return _line(item)
    return None


def _related_line(document: YamlDocument, message: str) -> int | None:
    related = value_node(document.node, "related")
    values = document.data.get("related")
    if not isinstance(related, yaml.SequenceNode) or not isinstance(values, list):
        return None
    for item, value in zip(related.value, values, strict=False):
        if _fails_alike(partial(SigmaRelatedItem.from_dict, value), message):
            return _line(item)
    return None


def _detection_line(document: YamlDocument, message: str) -> int | None:
    detection = value_node(document.node, "detection")
    data = document.data.get("detection")
    if not isinstance(detection, yaml.MappingNode) or not isinstance(data, Mapping):
        return None
    for (key_node, node), (name, definition) in zip(detection.value, data.items(), strict=False):
        if name == "condition":
            continue
        if _fails_alike(partial(SigmaDetection.from_definition, definition), message):
            return _definition_line(node, definition, message) or _line(key_node)
    return None


def _definition_line(node: yaml.Node, definition: Any, message: str) -> int | None:
    """The key, or the value in a list, of one selection that raises ``message``."""
    if isinstance(node, yaml.MappingNode) and isinstance(definition, Mapping):
        for (key_node, value_node_), (key, value) in zip(
            node.value, definition.items(), strict=False
        ):
            if _fails_alike(partial(SigmaDetectionItem.from_mapping, key, value), message):
                return _value_in_list(key, value_node_, value, message) or _line(key_node)
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(definition, list):
        plain = all(not isinstance(item, Mapping | list) for item in definition)
        for item_node, item in zip(node.value, definition, strict=False):
            if plain and _fails_alike(partial(SigmaDetectionItem.from_value, [item]), message):
                return _line(item_node)
            if not plain and _fails_alike(partial(SigmaDetection.from_definition, item), message):
                return _definition_line(item_node, item, message) or _line(item_node)
    return None


def _value_in_list(key: str, node: yaml.Node, value: Any, message: str) -> int | None:
    if not isinstance(node, yaml.SequenceNode) or not isinstance(value, list):
        return None
    for item_node, item in zip(node.value, value, strict=False):
        if _fails_alike(partial(SigmaDetectionItem.from_mapping, key, [item]), message):
            return _line(item_node)
    return None


def _field_line(document: YamlDocument, field: str | None) -> int | None:
    """The first detection key naming ``field`` (``None``: the first keyword list)."""
    for key_node, value in _selection_entries(value_node(document.node, "detection")):
        if key_node is None and field is None:
            return _line(value)
        if key_node is not None and str(key_node.value).split("|")[0] == (field or ""):
            return _line(key_node)
    return None


def _value_line(document: YamlDocument, text: str | None) -> int | None:
    for _key_node, value in _selection_entries(value_node(document.node, "detection")):
        items = value.value if isinstance(value, yaml.SequenceNode) else [value]
        for item in items:
            if isinstance(item, yaml.ScalarNode) and item.value == text:
                return _line(item)
    return None


def _selection_entries(
    node: yaml.Node | None,
) -> list[tuple[yaml.ScalarNode | None, yaml.Node]]:
    """(key, value) of every field in the selections, in order; keyword lists have no key."""
    entries: list[tuple[yaml.ScalarNode | None, yaml.Node]] = []
    stack: list[yaml.Node] = [
        value
        for key, value in (node.value if isinstance(node, yaml.MappingNode) else [])
        if key.value != "condition"
    ]
    while stack:
        current = stack.pop(0)
        if isinstance(current, yaml.MappingNode):
            entries.extend((key, value) for key, value in current.value)
        elif isinstance(current, yaml.SequenceNode):
            if all(isinstance(item, yaml.ScalarNode) for item in current.value):
                entries.append((None, current))
            else:
                stack[:0] = current.value
        else:
            entries.append((None, current))
    return entries


def _item_line(root: yaml.Node, key: str, text: str) -> int | None:
    node = value_node(root, key)
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            if isinstance(item, yaml.ScalarNode) and item.value == text:
                return _line(item)
    return None
