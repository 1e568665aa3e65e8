"""The rule registry, as plain functions: session first, keyword-only arguments, ``actor``
for every change (recorded in the audit trail), ``flush`` but never ``commit``.

    import_rules(session, sources, *, actor, now, origin, enabled, pipeline) -> ImportReport
    list_rules / find_rule / get_rule / rule_versions / get_rule_version
    enable_rule / disable_rule(session, key, *, actor, now)
    enabled_rule_texts(session) -> [RuleText]   what the streaming engine loads
    set_list / add_to_list / remove_from_list(session, *, name, …, actor, now)
    get_lists(session) -> {name: values}; lists_version(session) -> str (poll for changes)
    install_packs(session, *, actor, now)      Wachter's own pack, at every start-up
    list_detections / get_detection / detection_events / explanation_of   what the console shows
"""

from detection_rules.service.detections import (
    ClusterDocument,
    CorrelationSummary,
    DetectionEvents,
    Explanation,
    MatchedField,
    MatchedSelection,
    detection_events,
    documents_of,
    event_ids_of,
    explanation_of,
    get_detection,
    group_of,
    list_detections,
)
from detection_rules.service.imports import (
    ImportedRule,
    ImportOutcome,
    ImportReport,
    import_rules,
    text_digest,
)
from detection_rules.service.lists import MAX_VALUES as MAX_LIST_VALUES
from detection_rules.service.lists import (
    add_to_list,
    find_lists,
    get_list,
    get_lists,
    list_values,
    lists_version,
    remove_from_list,
    rules_using_list,
    set_list,
)
from detection_rules.service.packs import install_packs, pack_sources
from detection_rules.service.rules import (
    RuleText,
    disable_rule,
    enable_rule,
    enabled_rule_texts,
    find_rule,
    get_rule,
    get_rule_version,
    list_rules,
    rule_versions,
)

__all__ = [
    "MAX_LIST_VALUES",
    "ClusterDocument",
    "CorrelationSummary",
    "DetectionEvents",
    "Explanation",
    "ImportOutcome",
    "ImportReport",
    "ImportedRule",
    "MatchedField",
    "MatchedSelection",
    "RuleText",
    "add_to_list",
    "detection_events",
    "disable_rule",
    "documents_of",
    "enable_rule",
    "enabled_rule_texts",
    "event_ids_of",
    "explanation_of",
    "find_lists",
    "find_rule",
    "get_detection",
    "get_list",
    "get_lists",
    "get_rule",
    "get_rule_version",
    "group_of",
    "import_rules",
    "install_packs",
    "list_detections",
    "list_rules",
    "list_values",
    "lists_version",
    "pack_sources",
    "remove_from_list",
    "rule_versions",
    "rules_using_list",
    "set_list",
    "text_digest",
]
