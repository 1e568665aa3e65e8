"""Reading Sigma rules: files, folders and zip archives, and a line for every problem."""

from __future__ import annotations

import io
import textwrap
import zipfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from sigma.correlations import SigmaCorrelationRule

from detection_rules.errors import DetectionRuleError, RuleArchiveError
from detection_rules.loading import (
    ArchiveLimits,
    RuleSource,
    count_rule_files,
    load_rules,
    parse_rule_source,
    read_rule_sources,
    resolve_references,
)

RULE = """\
title: Whoami run
id: 4f0b8b7e-3a59-4c53-9d0b-0b8f8f0f0a01
status: test
level: medium
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\\whoami.exe'
    condition: selection
"""


def parse(text: str, path: str = "rule.yml"):
    return parse_rule_source(RuleSource(path=path, data=textwrap.dedent(text).encode()))


def problems(text: str) -> list[tuple[int | None, str]]:
    parsed = parse(text)
    assert parsed.loaded == [], "a rule with problems must not load"
    return [(problem.line, problem.message) for problem in parsed.problems]


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def make_zip(path: Path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


# Sources: files, folders, archives


def test_a_folder_is_read_recursively_in_sorted_order_without_hidden_folders(tmp_path):
    write(tmp_path / "b" / "two.yml", RULE)
    write(tmp_path / "a" / "one.yaml", RULE)
    write(tmp_path / "a" / "README.md", "not a rule")
    write(tmp_path / ".github" / "workflow.yml", "on: push")
    names = [Path(source.path).relative_to(tmp_path) for source in read_rule_sources([tmp_path])]
    assert names == [Path("a/one.yaml"), Path("b/two.yml")]
    assert count_rule_files([tmp_path]) == 2


def test_a_zip_is_read_in_memory_and_its_members_are_named_after_the_archive(tmp_path):
    archive = make_zip(
        tmp_path / "pack.zip",
        {"rules/b.yml": RULE.encode(), "rules/a.yml": RULE.encode(), "LICENSE": b"DRL 1.1"},
    )
    before = sorted(tmp_path.rglob("*"))
    sources = list(read_rule_sources([archive]))
    assert [source.path for source in sources] == [
        f"{archive}!rules/a.yml",
        f"{archive}!rules/b.yml",
    ]
    assert sources[0].data == RULE.encode()
    assert sorted(tmp_path.rglob("*")) == before, "nothing may be extracted to disk"
    assert count_rule_files([archive]) is None


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path):
    archive = make_zip(tmp_path / "bomb.zip", {"rule.yml": b"#" * (50 * 1024 * 1024)})
    assert archive.stat().st_size < 200 * 1024
    with pytest.raises(RuleArchiveError, match=r"rule\.yml inflates to more than 4194304 bytes"):
        list(read_rule_sources([archive]))


def test_members_that_inflate_beyond_the_total_limit_are_refused(tmp_path):
    archive = make_zip(tmp_path / "big.zip", {f"r{n}.yml": b"#" * 1000 for n in range(5)})
    limits = ArchiveLimits(max_total_bytes=3000)
    with pytest.raises(RuleArchiveError, match="inflate to more than 3000 bytes in all"):
        list(read_rule_sources([archive], limits=limits))


def test_a_member_whose_header_understates_its_size_is_refused(tmp_path):
    archive = make_zip(tmp_path / "liar.zip", {"rule.yml": b"#" * 10_000})
    data = bytearray(archive.read_bytes())
    # Claim 100 bytes in both the local header and the central directory.
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        position = data.find(signature)
        data[position + offset : position + offset + 4] = (100).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    with pytest.raises(RuleArchiveError, match=r"cannot read rule\.yml"):
        list(read_rule_sources([archive]))


def test_an_archive_with_too_many_members_is_refused(tmp_path):
    archive = make_zip(tmp_path / "many.zip", {f"r{n}.yml": RULE.encode() for n in range(4)})
    with pytest.raises(RuleArchiveError, match="4 members, more than the 3"):
        list(read_rule_sources([archive], limits=ArchiveLimits(max_members=3)))


def test_a_nested_archive_is_refused(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as nested:
        nested.writestr("rule.yml", RULE)
    archive = make_zip(tmp_path / "outer.zip", {"inner.zip": inner.getvalue()})
    with pytest.raises(RuleArchiveError, match=r"holds another archive \(inner\.zip\)"):
        list(read_rule_sources([archive]))


def test_a_member_compressed_with_bzip2_is_refused(tmp_path):
    archive = make_zip(tmp_path / "bz.zip", {"rule.yml": RULE.encode()}, zipfile.ZIP_BZIP2)
    with pytest.raises(RuleArchiveError, match="compression other than deflate"):
        list(read_rule_sources([archive]))


def test_a_file_that_is_not_a_zip_is_refused_clearly(tmp_path):
    archive = write(tmp_path / "broken.zip", b"PK not really")
    with pytest.raises(RuleArchiveError, match="not a readable zip archive"):
        list(read_rule_sources([archive]))


def test_a_missing_path_is_an_error_naming_it(tmp_path):
    with pytest.raises(DetectionRuleError, match=r"nowhere\.yml: no such file or folder"):
        list(read_rule_sources([tmp_path / "nowhere.yml"]))


def test_a_rule_file_larger_than_four_mebibytes_is_refused(tmp_path):
    huge = write(tmp_path / "huge.yml", b"#" * (4 * 1024 * 1024 + 1))
    with pytest.raises(DetectionRuleError, match="larger than 4194304 bytes"):
        list(read_rule_sources([huge]))


# Rules and their text


def test_a_single_document_file_loads_with_its_text_as_written():
    parsed = parse(RULE)
    (loaded,) = parsed.loaded
    assert parsed.problems == []
    assert loaded.key == "4f0b8b7e-3a59-4c53-9d0b-0b8f8f0f0a01"
    assert loaded.line == 1
    assert loaded.text == RULE


def test_each_document_of_a_multi_document_file_keeps_its_own_text_and_line():
    text = "# base rules\n" + RULE + "---\n" + RULE.replace("4f0b", "5f0b").replace("Whoami", "Id")
    parsed = parse(text)
    first, second = parsed.loaded
    assert first.text == "# base rules\n" + RULE
    assert second.line == 14
    assert second.text.startswith("title: Id run\n")
    assert "4f0b" not in second.text


def test_a_correlation_resolves_against_a_rule_in_another_file():
    base = parse(RULE.replace("title: Whoami run", "title: Whoami run\nname: whoami_run"))
    correlation = parse(
        """\
        title: Many whoami
        correlation:
            type: event_count
            rules: [whoami_run]
            group-by: [User]
            timespan: 5m
            condition: {gte: 3}
        """,
        path="correlation.yml",
    )
    base_source, correlation_source = resolve_references([base, correlation])
    (loaded,) = correlation_source.loaded
    assert isinstance(loaded.rule, SigmaCorrelationRule)
    assert loaded.rule.referenced_rules[0].rule is base_source.loaded[0].rule
    assert correlation_source.problems == []


def test_an_unresolved_correlation_reference_is_reported_at_that_reference():
    parsed = parse(
        """\
        title: Burst
        correlation:
            type: event_count
            rules:
                - exists
                - does_not_exist
            timespan: 5m
            condition: {gte: 3}
        ---
        title: Exists
        name: exists
        logsource: {product: linux}
        detection:
            selection: {a: 1}
            condition: selection
        """
    )
    (resolved,) = resolve_references([parsed])
    assert [entry.key for entry in resolved.loaded] == ["exists"]
    (problem,) = resolved.problems
    assert (problem.path, problem.line, problem.code) == ("rule.yml", 6, "reference")
    assert "Rule 'does_not_exist' not found" in problem.message
    assert problem.rule == '"Burst"'


def test_a_correlation_over_a_rejected_correlation_is_rejected_too():
    parsed = parse(
        """\
        title: Outer
        correlation: {type: event_count, rules: [inner], timespan: 1h, condition: {gte: 2}}
        ---
        title: Inner
        name: inner
        correlation: {type: event_count, rules: [nowhere], timespan: 5m, condition: {gte: 2}}
        """
    )
    (resolved,) = resolve_references([parsed])
    assert resolved.loaded == []
    assert [problem.line for problem in resolved.problems] == [2, 6]


def test_action_global_is_merged_into_the_following_rules_and_stored_merged():
    parsed = parse(
        """\
        action: global
        logsource: {product: linux}
        level: high
        ---
        title: One
        detection: {selection: {a: 1}, condition: selection}
        ---
        title: Two
        detection: {selection: {a: 2}, condition: selection}
        """
    )
    assert parsed.problems == []
    _one, two = parsed.loaded
    assert str(two.rule.level) == "high"
    assert two.rule.logsource.product == "linux"
    reread = parse(two.text)
    assert reread.problems == []
    assert reread.loaded[0].rule.title == "Two"
    assert reread.loaded[0].rule.logsource.product == "linux"


def test_action_repeat_reuses_the_previous_rule_with_its_keys_replaced():
    parsed = parse(
        """\
        title: Linux
        logsource: {product: linux}
        detection: {selection: {a: 1}, condition: selection}
        ---
        action: repeat
        title: Windows
        logsource: {product: windows}
        """
    )
    first, second = parsed.loaded
    assert (second.rule.title, second.rule.logsource.product) == ("Windows", "windows")
    assert second.rule.detection.detections.keys() == first.rule.detection.detections.keys()


def test_an_unknown_collection_action_is_reported_at_its_key():
    assert problems("title: x\naction: merge\n") == [(2, "Unknown Sigma collection action 'merge'")]


# Every problem with its line


@pytest.mark.parametrize(
    ("bad", "good", "line", "message"),
    [
        ("level: medium", "level: severe", 4, "'severe' is not a valid Sigma rule level"),
        ("status: test", "status: final", 3, "'final' is not a valid Sigma rule status"),
        ("id: 4f0b8b7e-3a59-4c53-9d0b-0b8f8f0f0a01", "id: not-a-uuid", 2, "must be an UUID"),
        # pySigma crashes on a numeric id (AttributeError): still reported, at the id.
        ("id: 4f0b8b7e-3a59-4c53-9d0b-0b8f8f0f0a01", "id: 42", 2, "pySigma cannot read"),
        ("status: test", "status: test\ndate: 2024/13/45", 4, "Rule date '2024/13/45' is invalid"),
        ("status: test", "status: test\ndate: 2024-13-45", 4, "month must be in 1..12"),
        ("title: Whoami run", "title: [a, b]", 1, "Sigma rule title must be a string"),
        ("    product: windows\n", "    product: [windows]\n", 7, "product must be string"),
        ("Image|endswith", "Image|endswit", 10, "Unknown modifier 'endswit'"),
        ("condition: selection", "condition: selection and", 11, "found end of text"),
        ("condition: selection", "condition: selection or filter", 11, "'filter' not defined"),
        ("condition: selection", "condition: selection | count() > 5", 11, "pipe syntax"),
    ],
)
def test_a_bad_rule_is_reported_at_the_line_of_the_offending_key(bad, good, line, message):
    assert bad in RULE
    ((found_line, found_message),) = problems(RULE.replace(bad, good, 1))
    assert found_line == line
    assert message in found_message


def test_a_missing_title_is_reported_at_the_start_of_the_document():
    text = "---\n# no title\nlogsource: {product: linux}\ndetection: {s: {a: 1}, condition: s}\n"
    assert problems(text) == [(3, "Sigma rule must have a title")]


def test_a_missing_condition_is_reported_at_the_detection_key():
    ((line, message),) = problems(RULE.replace("    condition: selection\n", ""))
    assert (line, message) == (8, "Sigma rule must contain at least one condition")


def test_a_bad_tag_is_reported_at_that_tag():
    text = RULE.replace("level: medium", "level: medium\ntags:\n    - attack.t1033\n    - nodot")
    ((line, message),) = problems(text)
    assert line == 7
    assert message.startswith("Sigma tag must start with namespace")


def test_an_invalid_value_in_a_list_is_reported_at_that_value():
    text = """\
        title: Regex list
        logsource: {product: linux}
        detection:
            selection:
                CommandLine|re:
                    - 'fine'
                    - '(unclosed'
            condition: selection
        """
    ((line, message),) = problems(text)
    assert line == 7
    assert "Regular expression '(unclosed' is invalid" in message


def test_a_modifier_that_does_not_fit_the_value_is_reported_at_its_key():
    text = """\
        title: Base64 of a number
        logsource: {product: linux}
        detection:
            keywords:
                - abc
            selection:
                Data|base64offset|contains: 42
            condition: selection or keywords
        """
    ((line, message),) = problems(text)
    assert line == 7
    assert "incompatible to value type" in message


def test_an_empty_selection_is_reported_at_its_name():
    text = "title: E\nlogsource: {product: linux}\ndetection:\n    sel: {}\n    condition: sel\n"
    assert problems(text) == [(4, "Detection is empty")]


def test_a_selection_that_fails_only_when_the_condition_is_parsed_is_reported_at_its_name():
    text = """\
        title: E
        logsource: {product: linux}
        detection:
            fine: {a: 1}
            empty: []
            condition: fine and empty
        """
    assert problems(text) == [(5, "Null value must be bound to a field")]


def test_a_bad_condition_in_a_list_of_conditions_is_reported_at_that_condition():
    text = """\
        title: Two conditions
        logsource: {product: linux}
        detection:
            selection: {a: 1}
            condition:
                - selection
                - selection and not
        """
    ((line, message),) = problems(text)
    assert line == 7
    assert "Expected" in message


def test_several_problems_of_one_rule_are_all_reported_in_line_order():
    text = RULE.replace("status: test", "status: final").replace("level: medium", "level: x")
    assert [line for line, _message in problems(text)] == [3, 4]


def test_a_problem_names_the_rule_by_title_and_id():
    (problem,) = parse(RULE.replace("level: medium", "level: x")).problems
    assert problem.rule == '"Whoami run" (4f0b8b7e-3a59-4c53-9d0b-0b8f8f0f0a01)'
    assert str(problem).startswith("rule.yml:4: 'x' is not a valid Sigma rule level (rule ")


@pytest.mark.parametrize(
    ("bad", "good", "line", "message"),
    [
        ("timespan: 5m", "timespan: 5 minutes", 6, "Timespan '5 minutes' is invalid"),
        ("type: event_count", "type: event_sum", 3, "'event_sum' is no valid Sigma correlation"),
        ("group-by: [User]", "group-by: {a: 1}", 5, "group-by definition must be string or list"),
        ("condition: {gte: 3}", "condition: [3]", 7, "condition definition must be a dict"),
    ],
)
def test_a_bad_correlation_is_reported_at_the_line_of_the_offending_key(bad, good, line, message):
    correlation = """\
        title: Many
        correlation:
            type: event_count
            rules: [r]
            group-by: [User]
            timespan: 5m
            condition: {gte: 3}
        """
    assert bad in correlation
    reported = problems(correlation.replace(bad, good))
    assert any(found == line and message in text for found, text in reported), reported


def test_a_yaml_syntax_error_carries_the_line_pyyaml_found():
    text = "title: Broken\nlogsource:\n    product: linux\n  detection: [\n"
    ((line, message),) = problems(text)
    assert line == 4
    assert message.startswith("YAML: ")


def test_documents_before_a_yaml_syntax_error_still_load():
    parsed = parse(RULE + "---\ntitle: [unclosed\n")
    assert [entry.rule.title for entry in parsed.loaded] == ["Whoami run"]
    assert [problem.code for problem in parsed.problems] == ["yaml"]


def test_a_key_given_twice_is_reported_at_the_second_one():
    text = RULE.replace(
        "        Image|endswith", "        User: x\n        User: y\n        Image|endswith"
    )
    assert problems(text) == [
        (11, "duplicate key 'User' (first on line 10); YAML would keep only the last one")
    ]


def test_text_that_is_not_utf8_is_reported_at_the_line_of_the_bad_byte():
    parsed = parse_rule_source(RuleSource("latin1.yml", b"title: a\ndescription: caf\xe9\n"))
    assert [(problem.line, problem.message) for problem in parsed.problems] == [
        (2, "not UTF-8 text (byte 0xe9)")
    ]


def test_a_document_that_is_not_a_mapping_is_reported():
    assert problems("- just\n- a list\n") == [
        (1, "a Sigma rule is a YAML mapping (key: value), not a list")
    ]


def test_a_document_expanding_through_aliases_is_refused():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 7)]
    ((line, message),) = problems("\n".join(lines) + "\n")
    assert line == 1
    assert "expands to more than 100000 YAML nodes" in message


def test_sigma_filters_are_reported_as_unsupported():
    text = "title: F\nlogsource: {product: linux}\nfilter:\n    rules: [x]\n    selection: {a: 1}\n"
    (problem,) = parse(text).problems
    assert problem.code == "unsupported"


def test_load_rules_reads_parses_and_links_a_folder(tmp_path):
    write(tmp_path / "good.yml", RULE)
    write(tmp_path / "bad.yml", RULE.replace("level: medium", "level: loud"))
    good, bad = sorted(load_rules([tmp_path]), key=lambda source: source.path, reverse=True)
    assert len(good.loaded) == 1
    assert good.problems == []
    assert bad.loaded == []
    assert [problem.line for problem in bad.problems] == [4]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_no_input_makes_parsing_raise(data):
    parsed = parse_rule_source(RuleSource("fuzz.yml", data))
    for problem in parsed.problems:
        assert problem.path == "fuzz.yml"
        assert problem.line is None or problem.line >= 1


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["title", "level", "status", "logsource", "detection", "tags", "id"]),
        st.none() | st.integers() | st.text(max_size=10) | st.lists(st.text(max_size=5)),
    )
)
def test_no_rule_shaped_mapping_makes_parsing_raise(document):
    parsed = parse_rule_source(RuleSource("fuzz.yml", yaml.safe_dump(document).encode()))
    assert parsed.loaded or parsed.problems
